package main

import (
	"fmt"
	"path/filepath"
	"strings"
)

// defaultUnitRoot is the appliance root the shipped unit file names.
const defaultUnitRoot = "/var/lib/ferry"

// serveUnit is the systemd unit of `ferry serve` for the appliance at
// root, as dist/ferry-serve.service ships it for /var/lib/ferry (a test
// holds the two equal).
//
// Type=notify: systemd counts ferry serve started once every router
// listens (READY=1), and restarts it when its controller stops feeding
// the watchdog. The watchdog is generous because the controller may
// legitimately wait half a minute for a version to accept connections,
// or for a release rollback. KillMode=mixed: SIGTERM goes to ferry serve
// alone, which drains each router and stops each service's process group
// itself; only what is left after TimeoutStopSec is killed.
func serveUnit(root string) string {
	return fmt.Sprintf(`# ferry serve: the appliance's services, their routers and rollouts.
# Written by "ferry serve --print-unit --root %[1]s"; install with
#   ferry serve --print-unit --root %[1]s > /etc/systemd/system/ferry-serve.service
#   systemctl daemon-reload && systemctl enable --now ferry-serve
# The binary is expected at /usr/local/bin/ferry.

[Unit]
Description=ferry serve (%[1]s)
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
NotifyAccess=main
ExecStart=/usr/local/bin/ferry serve --root %[1]s
WatchdogSec=2min
TimeoutStartSec=5min
TimeoutStopSec=1min
KillMode=mixed
Restart=on-failure
RestartSec=5s
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`, root)
}

// checkUnitRoot refuses a root that the unit file could not name as it
// is: relative, or with characters systemd would read as quoting,
// specifiers or variables.
func checkUnitRoot(root string) error {
	if !filepath.IsAbs(root) || filepath.Clean(root) != root {
		return usageError("--print-unit: --root %q: want a clean absolute path", root)
	}
	if strings.ContainsAny(root, " \t\n\"'\\%$;") {
		return usageError("--print-unit: --root %q: write a path without spaces, quotes, backslashes, %%, $ or ;", root)
	}
	return nil
}
