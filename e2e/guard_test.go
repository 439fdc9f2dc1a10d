package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
)

// needTool skips the test when a program is missing, or fails it under
// DIALTONE_REQUIRE_ALL=1.
func needTool(t *testing.T, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("DIALTONE_REQUIRE_ALL") == "1" {
			t.Fatalf("%s is required (DIALTONE_REQUIRE_ALL=1): apt-get install %s", name, pkg)
		}
		t.Skipf("%s is not installed (make deps-test installs %s)", name, pkg)
	}
}

// sample sums the samples of a metric whose line starts with prefix,
// e.g. `dialtone_guard_auth_failures_total{transport="udp"}`.
func (sw *Switch) sample(prefix string) float64 {
	sw.t.Helper()
	_, body := sw.HTTP("/metrics")
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// runTool runs an attacker's tool to its end (at most a minute) and
// returns what it printed.
func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = t.TempDir() // sipvicious keeps its sessions in the working directory
	cmd.Env = append(os.Environ(), "HOME="+cmd.Dir)
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within a minute:\n%s", name, out)
	}
	return string(out)
}

// carrierAt is a trunk on a loopback address of its own, so that 127.0.0.1
// (where sipvicious sends from: svcrack ignores its -b) is not
// allow-listed as a trunk's address.
func carrierAt(ip string, port int) Options {
	return Options{Store: "sqlite", Trunks: []int{port}, TrunkExtra: map[int]string{0: fmt.Sprintf(`addresses: ["%s:%d"]`, ip, port)}}
}

// TestGuardBansPasswordGuesser: svcrack guesses alice's password; it is
// banned before its 20th guess, its right guess later in the list gets
// nothing, and a call with the right password from its address is not
// placed until the operator lifts the ban.
func TestGuardBansPasswordGuesser(t *testing.T) {
	needTool(t, "svcrack", "sipvicious")
	carrierPort := freePort(t)
	sw := startSwitch(t, carrierAt("127.0.0.5", carrierPort))
	sw.Account("alice", "secret")
	dict := filepath.Join(t.TempDir(), "passwords.txt")
	var words []string
	for i := range 40 {
		words = append(words, fmt.Sprintf("guess%02d", i))
	}
	words[24] = "secret" // the 25th guess is right
	if err := os.WriteFile(dict, []byte(strings.Join(words, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := runTool(t, "svcrack", "-u", "alice", "-d", dict, "-p", strconv.Itoa(sw.SIPPort), "--maximumtime", "5", "127.0.0.1")
	if strings.Contains(out, "secret") {
		t.Errorf("svcrack found the password:\n%s", out)
	}
	guesses := sw.sample(`dialtone_guard_auth_failures_total{transport="udp"}`)
	t.Logf("the switch checked %v of svcrack's guesses", guesses)
	if guesses < 1 || guesses >= 20 {
		t.Errorf("the switch checked %v guesses, want the guesser banned before its 20th", guesses)
	}
	if d := sw.sample(`dialtone_guard_requests_dropped_total{transport="udp",why="banned"}`); d == 0 {
		t.Errorf("dropped datagrams of banned sources = %v, want the guesses after the ban dropped", d)
	}
	bans := sw.CLI("guard", "bans")
	if !strings.Contains(bans, "127.0.0.1 ") || !strings.Contains(bans, "auth") {
		t.Fatalf("dialtone guard bans =\n%s\nwant 127.0.0.1 banned for auth", bans)
	}

	// The right password from the banned address places no call.
	app := appCall{user: "alice", password: "secret", holdMS: 500, end: "bye"}
	uas := startSipp(t, carrier{answer: "200", rtpPort: freePort(t)}.scenario(), "-i", "127.0.0.5", "-p", strconv.Itoa(carrierPort), "-m", "1")
	banned := startSipp(t, app.scenario(), fmt.Sprintf("127.0.0.1:%d", sw.SIPPort), "-s", "+442079460018",
		"-p", strconv.Itoa(freePort(t)), "-mp", strconv.Itoa(sippMediaPort(t)), "-m", "1", "-timeout", "6s")
	if st := banned.Wait(30 * time.Second); st.Successful != 0 {
		t.Errorf("a call from the banned address: %d successful, want none", st.Successful)
	}
	if cdrs, _ := sw.Store().CDRs(context.Background(), dialtone.CDRFilter{From: time.Unix(0, 0), To: time.Now().Add(time.Hour)}); len(cdrs) != 0 {
		t.Errorf("%d CDRs after a banned source's call, want none", len(cdrs))
	}

	// Lifted by the operator, the same call goes through.
	if got := sw.CLI("guard", "unban", "127.0.0.1"); !strings.Contains(got, "unbanned") {
		t.Errorf("dialtone guard unban = %q, want unbanned", got)
	}
	ok := startSipp(t, app.scenario(), fmt.Sprintf("127.0.0.1:%d", sw.SIPPort), "-s", "+442079460018",
		"-p", strconv.Itoa(freePort(t)), "-mp", strconv.Itoa(sippMediaPort(t)), "-m", "1")
	if st := ok.Wait(time.Minute); st.Successful != 1 {
		t.Errorf("a call after unban: %d successful, want 1\n%s", st.Successful, ok.Errors())
	}
	if cs := uas.Wait(30 * time.Second); cs.Successful != 1 {
		t.Errorf("carrier sipp: %d successful calls, want the one after unban\n%s", cs.Successful, uas.Errors())
	}
}

// TestGuardHidesUsers: svwar, by REGISTER and by INVITE, cannot tell the
// existing users from the missing ones.
func TestGuardHidesUsers(t *testing.T) {
	needTool(t, "svwar", "sipvicious")
	sw := startSwitch(t, carrierAt("127.0.0.5", freePort(t)))
	sw.Account("alice", "secret")
	sw.Account("bob", "secret")
	dict := filepath.Join(t.TempDir(), "users.txt")
	if err := os.WriteFile(dict, []byte("alice\nbob\nmallory\nnobody\n100\nadmin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"REGISTER", "INVITE"} {
		t.Run(method, func(t *testing.T) {
			out := runTool(t, "svwar", "-d", dict, "-m", method, "-p", strconv.Itoa(sw.SIPPort), "--maximumtime", "5", "127.0.0.1")
			for _, user := range []string{"alice", "bob"} {
				if strings.Contains(out, user) {
					t.Errorf("svwar -m %s lists %s:\n%s", method, user, out)
				}
			}
		})
	}
	// Forced to scan anyway, it finds every name like the random one it
	// probes first, so it lists none of them.
	t.Run("force", func(t *testing.T) {
		out := runTool(t, "svwar", "--force", "-d", dict, "-p", strconv.Itoa(sw.SIPPort), "--maximumtime", "5", "127.0.0.1")
		for _, line := range strings.Split(out, "\n") {
			if !strings.HasPrefix(line, "|") {
				continue
			}
			for _, user := range []string{"alice", "bob"} {
				if strings.Contains(line, user) {
					t.Errorf("svwar --force lists %s:\n%s", user, out)
				}
			}
		}
	})
}

// floodScenario sends one OPTIONS a call and waits for nothing.
const floodScenario = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="flood">
  <send><![CDATA[
      OPTIONS sip:ping@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:flood@[local_ip]>;tag=[call_number]
      To: <sip:ping@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 OPTIONS
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
</scenario>
`

// TestGuardThrottlesFlood: sipp floods the switch with OPTIONS from
// 127.0.0.2 while a phone on 127.0.0.3 makes calls at a normal rate; the
// flood is throttled, then banned, and the calls go through.
func TestGuardThrottlesFlood(t *testing.T) {
	const calls, rate = 50, 5
	carrierPort := freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort}, MediaPorts: 4*calls + 40})
	sw.Account("alice", "secret")
	flood := startSipp(t, floodScenario, fmt.Sprintf("127.0.0.1:%d", sw.SIPPort), "-i", "127.0.0.2",
		"-p", strconv.Itoa(freePort(t)), "-m", "5000", "-r", "500", "-l", "5000")
	time.Sleep(time.Second) // the flood is on before the first call
	uas := runCarrier(t, carrier{answer: "200", rtpPort: freePort(t)}, carrierPort, calls)
	app := appCall{user: "alice", password: "secret", holdMS: 500, end: "bye"}
	uac := startSipp(t, app.scenario(), fmt.Sprintf("127.0.0.1:%d", sw.SIPPort), "-i", "127.0.0.3", "-s", "+442079460018",
		"-p", strconv.Itoa(freePort(t)), "-mp", strconv.Itoa(sippMediaPort(t)),
		"-m", strconv.Itoa(calls), "-r", strconv.Itoa(rate), "-l", strconv.Itoa(calls))
	st := uac.Wait(2 * time.Minute)
	flood.Wait(time.Minute)
	if st.Successful*100 < calls*99 {
		t.Errorf("calls from 127.0.0.3 during the flood: %d of %d successful, want at least 99%%\n%s", st.Successful, calls, uac.Errors())
	}
	uas.Stop()
	throttled := sw.sample(`dialtone_guard_requests_dropped_total{transport="udp",why="throttled"}`)
	banned := sw.sample(`dialtone_guard_requests_dropped_total{transport="udp",why="banned"}`)
	t.Logf("flood of 5000 OPTIONS: %v throttled, %v dropped while banned", throttled, banned)
	if throttled == 0 || banned == 0 {
		t.Errorf("the flood's datagrams: %v throttled, %v dropped while banned; want both", throttled, banned)
	}
	bans := sw.CLI("guard", "bans")
	if !strings.Contains(bans, "127.0.0.2 ") || !strings.Contains(bans, "flood") || strings.Contains(bans, "127.0.0.3") {
		t.Errorf("dialtone guard bans =\n%s\nwant 127.0.0.2 banned for flood, and 127.0.0.3 not", bans)
	}
}

// TestGuardBoundsLogs: a burst of large malformed messages writes a few
// short lines, then one line counting the rest.
func TestGuardBoundsLogs(t *testing.T) {
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{freePort(t)}})
	logPath := filepath.Join(sw.dir, "switch.log")
	before := fileSize(t, logPath)
	conn, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 6)}, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sw.SIPPort})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	junk := append([]byte("\x01\x02 NOT SIP\r\n"), []byte(strings.Repeat("X-Junk: \x7f\x1b[31m\r\n", 3000))...) // 54 KB
	const burst = 80                                                                                            // within the source's burst: each one reaches the parser
	for range burst {
		if _, err := conn.Write(junk); err != nil {
			t.Fatal(err)
		}
		// A few 54 KB datagrams fill the socket's receive buffer: paced,
		// each reaches the parser even on a busy machine.
		time.Sleep(10 * time.Millisecond)
	}
	waitFor(t, 10*time.Second, func() bool { return strings.Count(readFile(t, logPath), "failed to parse") >= 5 })
	time.Sleep(500 * time.Millisecond) // the rest of the burst is read
	grown := fileSize(t, logPath) - before
	if lines := strings.Count(readFile(t, logPath), "failed to parse"); lines != 5 || grown > 5_000 {
		t.Errorf("%d malformed messages of %d bytes wrote %d lines, %d bytes of log; want 5 lines, at most 5 KB", burst, len(junk), lines, grown)
	}
	// The count of the suppressed lines comes with the first line after
	// the 10 s window.
	time.Sleep(10 * time.Second)
	if _, err := conn.Write(junk); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(readFile(t, logPath), "suppressed similar log lines") })
	// How many were suppressed depends on how many datagrams the kernel
	// kept while the switch was busy: some, not all.
	log := readFile(t, logPath)
	_, after, _ := strings.Cut(log, "suppressed=")
	n, _ := strconv.Atoi(strings.Fields(after + " ")[0])
	if n < 1 || n > burst-5 {
		t.Errorf("suppressed lines counted = %d, want 1 to %d:\n%s", n, burst-5, log[max(0, len(log)-1500):])
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
