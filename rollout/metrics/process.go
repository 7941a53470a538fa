package metrics

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/procfs"
)

// ticksPerSecond is the unit of the CPU times in /proc/PID/stat (USER_HZ).
// Linux reports them in hundredths of a second on every architecture.
const ticksPerSecond = 100

// maxAncestry bounds the walk up the parent links when deciding whether a
// process descends from one of a version's processes; process trees are
// never this deep, and the bound keeps a corrupt table from looping.
const maxAncestry = 64

// Sampler reads the CPU time and memory of a set of processes from /proc.
// It is safe for concurrent use.
type Sampler struct {
	fs       procfs.FS
	cores    int
	memTotal int64
}

// NewSampler returns a Sampler reading the proc file system mounted at
// procRoot ("" for /proc). It reads the number of CPUs and the memory
// size once.
func NewSampler(procRoot string) (*Sampler, error) {
	if procRoot == "" {
		procRoot = procfs.DefaultMountPoint
	}
	fs, err := procfs.NewFS(procRoot)
	if err != nil {
		return nil, fmt.Errorf("open proc file system at %s: %w", procRoot, err)
	}
	stat, err := fs.Stat()
	if err != nil {
		return nil, fmt.Errorf("read CPU count from %s/stat: %w", procRoot, err)
	}
	mem, err := fs.Meminfo()
	if err != nil {
		return nil, fmt.Errorf("read memory size from %s/meminfo: %w", procRoot, err)
	}
	if len(stat.CPU) == 0 || mem.MemTotal == nil || *mem.MemTotal == 0 {
		return nil, fmt.Errorf("read %s: no CPUs or no MemTotal listed; is it a proc file system?", procRoot)
	}
	return &Sampler{fs: fs, cores: len(stat.CPU), memTotal: int64(*mem.MemTotal) * 1024}, nil
}

// Cores returns the number of CPUs the machine has, as /proc/stat lists them.
func (s *Sampler) Cores() int { return s.cores }

// MemTotal returns the machine's memory in bytes (MemTotal in /proc/meminfo).
func (s *Sampler) MemTotal() int64 { return s.memTotal }

// ProcessSample is the cumulative CPU time and the current memory of a set
// of processes at one moment. Two samples make a Usage.
type ProcessSample struct {
	At time.Time
	// CPU is the user and system time the processes used since they
	// started, including that of their children that have exited and been
	// waited for, so time does not vanish when a worker process ends.
	CPU time.Duration
	// RSS is the sum of the processes' resident set sizes. Pages shared
	// between processes count once per process, as ps(1) counts them.
	RSS int64
	// Processes is how many processes were found.
	Processes int
}

// Sample reads the processes named by pids and with them every descendant
// (through the parent links in /proc) and every member of their process
// groups (a service started as its own process group keeps a daemonized
// child in it). A pid that no longer exists is skipped, not an error: the
// sample covers whatever is running.
func (s *Sampler) Sample(pids []int) (ProcessSample, error) {
	table, err := s.scan()
	if err != nil {
		return ProcessSample{}, err
	}
	return table.sample(pids), nil
}

// ProcessTable is one read of every process's stat file, to sample many
// sets of processes at the same moment for the cost of one scan of /proc.
type ProcessTable struct{ t procTable }

// Scan reads /proc once; Sample on the result is Sampler.Sample without
// another scan.
func (s *Sampler) Scan() (*ProcessTable, error) {
	t, err := s.scan()
	if err != nil {
		return nil, err
	}
	return &ProcessTable{t: t}, nil
}

// Sample sums the processes of the set named by pids, as Sampler.Sample
// does, at the moment of the scan.
func (p *ProcessTable) Sample(pids []int) ProcessSample { return p.t.sample(pids) }

// Usage turns two samples of the same processes into rates.
type Usage struct {
	// CPUPercent is the share of the whole machine the processes used
	// between the two samples: 100 means every core was busy the whole
	// time, so on a 4-core machine one busy core is 25.
	CPUPercent float64
	// RSS is the resident memory at the later sample, in bytes.
	RSS int64
	// MemPercent is RSS as a percentage of the machine's memory.
	MemPercent float64
	// Processes is how many processes the later sample found.
	Processes int
}

// Usage returns the usage between prev and cur, two samples of the same
// set of processes, prev the earlier. CPU time lost between the samples
// (a process that exited without being waited for by one of the set)
// counts as none used, never as negative.
func (s *Sampler) Usage(prev, cur ProcessSample) Usage {
	u := Usage{
		RSS:        cur.RSS,
		MemPercent: 100 * float64(cur.RSS) / float64(s.memTotal),
		Processes:  cur.Processes,
	}
	wall := cur.At.Sub(prev.At)
	cpu := cur.CPU - prev.CPU
	if wall > 0 && cpu > 0 {
		u.CPUPercent = 100 * cpu.Seconds() / wall.Seconds() / float64(s.cores)
	}
	return u
}

// procTable is one read of every process's stat file.
type procTable struct {
	at    time.Time
	stats map[int]procfs.ProcStat
}

// scan reads /proc/PID/stat of every process. Processes that exit during
// the scan are left out.
func (s *Sampler) scan() (procTable, error) {
	procs, err := s.fs.AllProcs()
	if err != nil {
		return procTable{}, fmt.Errorf("list processes: %w", err)
	}
	t := procTable{at: time.Now(), stats: make(map[int]procfs.ProcStat, len(procs))}
	for _, p := range procs {
		st, err := p.Stat()
		if err != nil {
			// Gone between the listing and the read, or a kernel
			// thread's file we may not read: either way not ours to
			// count.
			continue
		}
		t.stats[st.PID] = st
	}
	if len(t.stats) == 0 {
		return procTable{}, errors.New("list processes: no readable /proc/PID/stat at all; is /proc mounted?")
	}
	return t, nil
}

// sample sums the processes of the set named by pids (see Sample).
func (t procTable) sample(pids []int) ProcessSample {
	roots := make(map[int]bool, len(pids))
	for _, pid := range pids {
		if pid > 0 {
			roots[pid] = true
		}
	}
	out := ProcessSample{At: t.at}
	if len(roots) == 0 {
		return out
	}
	var ticks int64
	for pid, st := range t.stats {
		if !t.belongs(pid, roots) {
			continue
		}
		out.Processes++
		ticks += int64(st.UTime) + int64(st.STime) + int64(st.CUTime) + int64(st.CSTime)
		out.RSS += int64(st.ResidentMemory())
	}
	out.CPU = time.Duration(ticks) * (time.Second / ticksPerSecond)
	return out
}

// belongs reports whether pid is one of roots, leads or sits in a process
// group a root leads, or descends from a root.
func (t procTable) belongs(pid int, roots map[int]bool) bool {
	for range maxAncestry {
		st, ok := t.stats[pid]
		if !ok {
			return false
		}
		if roots[pid] || roots[st.PGRP] {
			return true
		}
		if st.PPID <= 1 || st.PPID == pid {
			return false
		}
		pid = st.PPID
	}
	return false
}
