package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// ClientTimeout bounds a whole exchange with Do: the server's own IOTimeout steps fit in it.
const ClientTimeout = 3 * IOTimeout

// Do sends req to the control socket at path and returns the server's response. The error
// names path when the exchange failed, and carries Response.Error when the server refused
// the request (Response.OK false).
func Do(path string, req Request) (Response, error) {
	resp, err := exchange(path, req)
	if err != nil {
		return Response{}, fmt.Errorf("control socket %s: %w", path, err)
	}
	if !resp.OK {
		return resp, errors.New(resp.Error)
	}
	return resp, nil
}

func exchange(path string, req Request) (Response, error) {
	line, err := json.Marshal(req)
	if err != nil {
		return Response{}, err
	}
	line = append(line, '\n')
	if len(line) > MaxRequestSize {
		return Response{}, fmt.Errorf("request longer than %d bytes", MaxRequestSize)
	}
	conn, err := net.DialTimeout("unix", path, ClientTimeout)
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return Response{}, opErr.Err // Do names the path once
	}
	if err != nil {
		return Response{}, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(ClientTimeout)); err != nil {
		return Response{}, err
	}
	// A server that refuses a client (busy, or not allowed) answers without reading, and its
	// answer may come before the write fails: the response counts, if there is one.
	_, writeErr := conn.Write(line)
	var resp Response
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		if writeErr != nil {
			return Response{}, writeErr
		}
		return Response{}, fmt.Errorf("read response: %w", err)
	}
	if !resp.OK && resp.Error == "" {
		return Response{}, errors.New("response neither ok nor an error")
	}
	return resp, nil
}
