package systemdunit

import "strings"

// Why directives without a watchdog counterpart are left out, by family. The first
// family whose prefix or name matches the directive gives the reason.
var reasonFamilies = []struct {
	names  []string // exact names, or prefixes ending in '*'
	reason string
}{
	{[]string{"Protect*", "Private*", "ReadWritePaths", "ReadOnlyPaths", "InaccessiblePaths", "ExecPaths",
		"NoExecPaths", "TemporaryFileSystem", "BindPaths", "BindReadOnlyPaths", "NoNewPrivileges", "Restrict*",
		"SystemCall*", "CapabilityBoundingSet", "AmbientCapabilities", "LockPersonality",
		"MemoryDenyWriteExecute", "RootDirectory", "RootImage*", "RootHash*", "RootVerity", "MountFlags",
		"MountImages", "ExtensionImages", "ExtensionDirectories", "DevicePolicy", "DeviceAllow", "IPAddress*",
		"IPIngressFilterPath", "IPEgressFilterPath", "SocketBind*", "KeyringMode", "SecureBits",
		"ProcSubset", "DynamicUser", "RemoveIPC", "SELinuxContext*", "AppArmorProfile", "SmackProcessLabel",
		"NetworkNamespacePath", "IPCNamespacePath", "SupplementaryGroups", "PAMName", "UMask",
		"NFTSet", "RestrictFileSystems", "RestrictNetworkInterfaces"},
		"sandboxing and credentials are the container's job (docker run --cap-drop, --read-only, --group-add, seccomp)"},
	{[]string{"CPU*", "Memory*", "IO*", "BlockIO*", "Tasks*", "Limit*", "Slice", "Delegate*", "OOMPolicy",
		"OOMScoreAdjust", "Nice", "StartupCPU*", "StartupIO*", "StartupMemory*", "AllowedCPUs",
		"AllowedMemoryNodes", "StartupAllowed*", "ManagedOOM*", "CoredumpFilter", "TimerSlackNSec",
		"Personality", "ManagedOOMPreference", "ManagedOOMMemoryPressure*", "DefaultMemory*"},
		"resource limits and scheduling are set on the container (docker run --ulimit, --memory, --cpus)"},
	{[]string{"StandardOutput", "StandardError", "StandardInput*", "SyslogIdentifier", "SyslogFacility",
		"SyslogLevel*", "LogLevelMax", "LogExtraFields", "LogRateLimit*", "LogFilterPatterns", "LogNamespace",
		"TTY*", "UtmpIdentifier", "UtmpMode", "IgnoreSIGPIPE"},
		"watchdog passes the service's stdout and stderr through as its own; there is no journal or TTY set-up"},
	{[]string{"RuntimeDirectory*", "StateDirectory*", "CacheDirectory*", "LogsDirectory*",
		"ConfigurationDirectory*"},
		"create the directory in the image or mount a volume there"},
	{[]string{"LoadCredential*", "SetCredential*", "ImportCredential"},
		"no credentials store: mount secrets as files"},
	{[]string{"Condition*", "Assert*"},
		"watchdog starts every service it has; no start conditions"},
	{[]string{"ExecStartPost"},
		"nothing runs after a start; a oneshot service that depends_on this one runs once it is ready"},
	{[]string{"ExecStop", "ExecStopPost"},
		"watchdog stops a service with stop_signal to its process group, then SIGKILL after stop_grace_period"},
	{[]string{"ExecReload", "ReloadSignal"},
		"no reload action: watchdog forwards signals such as SIGHUP to every service"},
	{[]string{"ExecCondition"},
		"no start conditions"},
	{[]string{"PIDFile", "GuessMainPID"},
		"watchdog supervises the process it starts; no PID files"},
	{[]string{"NotifyAccess"},
		"watchdog reads the notify socket as it does for every notify service"},
	{[]string{"Sockets", "FileDescriptorStoreMax", "FileDescriptorStorePreserve", "ListenStream"},
		"no socket activation or descriptor store"},
	{[]string{"Requisite", "BindsTo", "PartOf", "Upholds", "Conflicts", "OnFailure*", "OnSuccess*",
		"PropagatesReloadTo", "ReloadPropagatedFrom", "PropagatesStopTo", "StopPropagatedFrom", "JoinsNamespaceOf",
		"RequiresMountsFor", "WantsMountsFor", "OnFailureJobMode", "DefaultDependencies", "IgnoreOnIsolate",
		"StopWhenUnneeded", "RefuseManualStart", "RefuseManualStop", "AllowIsolate", "CollectMode",
		"SourcePath", "SurviveFinalKillSignal"},
		"watchdog has no units, targets or jobs beyond depends_on"},
	{[]string{"FailureAction*", "SuccessAction*", "StartLimitAction", "RebootArgument", "JobTimeout*",
		"JobRunningTimeout*"},
		"watchdog does not reboot or power off; a critical service that fails for good ends watchdog"},
	{[]string{"SendSIGKILL", "SendSIGHUP", "FinalKillSignal", "RestartKillSignal", "WatchdogSignal",
		"TimeoutAbortSec", "TimeoutStartFailureMode", "TimeoutStopFailureMode"},
		"watchdog stops with stop_signal, then SIGKILL after stop_grace_period; this is not configurable"},
	{[]string{"RestartPreventExitStatus", "RestartForceExitStatus", "RestartMode", "RuntimeMaxSec",
		"RuntimeRandomizedExtraSec", "ExitType", "OpenFile"},
		"no watchdog equivalent"},
	{[]string{"Alias", "WantedBy", "RequiredBy", "UpheldBy", "Also", "DefaultInstance"},
		"installation: watchdog starts every service in its config"},
	{[]string{"PassEnvironment", "UnsetEnvironment"},
		"a service gets watchdog's environment plus its own; nothing is passed or unset selectively"},
}

// unsupportedReason says why a directive is not translated.
func unsupportedReason(a Assignment) string {
	if strings.HasPrefix(a.Key, "X-") {
		return "an extension for other tools; systemd ignores it too"
	}
	if a.Section == "Install" {
		return "installation: watchdog starts every service in its config"
	}
	for _, f := range reasonFamilies {
		for _, name := range f.names {
			if prefix, ok := strings.CutSuffix(name, "*"); ok && strings.HasPrefix(a.Key, prefix) || name == a.Key {
				return f.reason
			}
		}
	}
	return "no watchdog equivalent"
}
