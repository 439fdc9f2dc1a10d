// Package benchproc holds what the benchmark commands (cmd/loadbench,
// cmd/relaybench) need to run and watch the switch as a process of its
// own: a free port, waiting until it is ready, and its CPU time and
// memory from /proc.
package benchproc

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// LoadAccount is the configuration (top-level YAML) of a switch that one
// benchmark account loads: the guard's per-source rate raised so that it
// never throttles the load generator, and the account's calls free and
// unlimited, since the benchmarks measure SIP and media, not billing
// (cmd/billbench does) nor the limits.
const LoadAccount = `guard: {rate: 100000, burst: 200000}
billing: {unbilled: allow}
limits: {concurrent_calls: unlimited, calls_per_minute: unlimited, spend_hour: unlimited, spend_day: unlimited,
  max_rate: unlimited, countries: ["*"], number_types: [mobile, fixed, toll_free, premium, other]}
`

// FreePort is a port of 127.0.0.1 free a moment ago, for network "udp" or
// "tcp".
func FreePort(network string) int {
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitReady polls url (the switch's /readyz) until it answers 200, for at
// most 15 s.
func WaitReady(url string) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("switch did not become ready")
}

// CPU is a process's user and system time from /proc/PID/stat (all its
// threads), 0 when it cannot be read.
func CPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	ticks, err := StatTicks(string(b))
	if err != nil {
		return 0
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// MachineCPU is the CPU time all the machine's processors spent busy (not
// idle, not waiting for I/O) since boot, from /proc/stat; 0 when it cannot
// be read. The difference over a run, divided by the work done, is the
// work's cost in CPU whichever processes did it: the benchmark, the
// database and the kernel.
func MachineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	ticks, err := BusyTicks(string(b))
	if err != nil {
		return 0
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// BusyTicks is the all-processor "cpu" line of /proc/stat summed without
// its idle and iowait fields (the 4th and 5th).
func BusyTicks(stat string) (int64, error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("proc stat: no cpu line in %.40q", line)
	}
	var busy int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc stat: cpu field %d %q", i+1, v)
		}
		if i != 3 && i != 4 && i < 8 { // guest times are counted in user already
			busy += n
		}
	}
	return busy, nil
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on Linux.
const clockTicks = 100

// StatTicks is utime+stime (fields 14 and 15) of a /proc/PID/stat line.
// The command name (field 2) is in parentheses and may hold spaces, so
// fields are counted from the last ')'.
func StatTicks(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("proc stat: no command name")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("proc stat: too few fields")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("proc stat: utime %q stime %q", f[11], f[12])
	}
	return utime + stime, nil
}

// RSS is a process's resident memory in KiB from /proc/PID/status, 0 when
// it cannot be read.
func RSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			n, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return n
		}
	}
	return 0
}
