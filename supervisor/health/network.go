package health

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
)

// httpProbe GETs a URL; a 2xx or 3xx status is healthy. Redirects are not followed: a 3xx
// itself is healthy, as in Kubernetes.
type httpProbe struct {
	url    string
	client *http.Client
}

func newHTTPProbe(rawURL string) httpProbe {
	return httpProbe{url: rawURL, client: &http.Client{
		// No Proxy: the probe goes straight to the service, whatever HTTP_PROXY says.
		Transport: &http.Transport{
			// Every probe gets a fresh connection: no connection outlives its probe.
			DisableKeepAlives: true,
			// A probe asks whether the service answers, not who it is: the certificate of a
			// service reached as 127.0.0.1 rarely names that address (Kubernetes does the same).
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// check GETs the URL within ctx and keeps the first 4 KiB of the body as output.
func (p httpProbe) check(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return "", err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		// The URL is in the config already; the reason is what went wrong with it.
		if urlErr := (*url.Error)(nil); errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, outputLimit))
	if err != nil {
		return string(body), err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return string(body), fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return string(body), nil
}

// tcpProbe connects to host:port; a connection is healthy.
type tcpProbe string

func (addr tcpProbe) check(ctx context.Context) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", string(addr))
	if err != nil {
		return "", err
	}
	return "", conn.Close()
}
