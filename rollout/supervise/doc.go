// Package supervise runs the processes of ferry's services: one Instance per
// service version, started with a fresh loopback port, restarted with
// exponential backoff when it exits on its own, logging to size-rotated
// files, and stopped with SIGTERM, then SIGKILL after a grace period.
//
// # Process groups
//
// Every process starts in its own process group, and every signal the
// supervisor sends goes to the whole group, so a service that forks workers
// (or a shell script that starts the real binary) is stopped as a whole.
// When the main process of a group exits on its own, whatever it left in its
// group is killed before the service is restarted. Services must therefore
// stay in the foreground: a process that daemonizes into another group or
// session escapes supervision.
//
// # Ports
//
// A service does not choose its port. Start asks the kernel for a free
// loopback port, passes it as the environment variable PORT and in place of
// ${PORT} in the command's arguments and declared environment values, and
// reports it as Instance.Addr. The router sends traffic there; the port in
// the bundle's `listen:` is the router's, never the service's. A fresh port
// per Start also means that a process left behind by a supervisor that was
// killed cannot block the new one from binding. A restarted process keeps
// its port unless another program took it while the service was down; then
// it gets a new one, and Addr says so.
//
// # Stale groups
//
// If ferry serve itself is killed (kill -9, OOM killer), its services keep
// running: nothing reaps a process group whose supervisor is gone. So each
// running group is recorded in RunDir as SERVICE-VERSION.pgid (the group id,
// the leader's start time and the boot id, so that a recycled pid is never
// mistaken for the group). The next ferry serve calls KillStale on RunDir
// before it starts anything, which stops every recorded group that is still
// alive. Start refuses, with ErrAlreadyRunning, to start a service version
// whose recorded group is still alive.
//
// # Environment
//
// A service sees only PATH, HOME, LANG and TZ from the supervisor's
// environment, then the environment declared in the bundle, then
// FERRY_DATA, PORT, FERRY_SERVICE and FERRY_VERSION. The supervisor's own environment is not
// passed on because it holds ferry's secrets (FERRY_PASSPHRASE, database
// DSNs with passwords) and whatever the shell or unit that started ferry
// serve happened to carry: a service must behave the same however ferry serve
// was started, and what it needs beyond the basics is part of the vendor's
// signed bundle.
//
// # Privileges
//
// A Spec with a Credential runs as that user and group, with no
// supplementary groups: a supervisor running as root passes none of root's
// groups on. Every process, with a Credential or without, starts with
// Linux's no_new_privs set (package nonewprivs), so executing a setuid or
// setgid program or a file with capabilities gives it no more rights than
// it has. A supervisor that is not root can only run services as its own
// user, and they keep its supplementary groups. DataDir, the one directory
// a service may write, is passed as FERRY_DATA.
//
// # Logs
//
// Standard output and standard error of a service go, interleaved as
// written, to LogDir/SERVICE-VERSION.log, rotated by size with
// gopkg.in/natefinch/lumberjack.v2. The supervisor adds one line when it
// starts a process and one when a process exits, each beginning "ferry: ".
package supervise
