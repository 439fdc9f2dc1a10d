package e2e

import (
	"context"
	"fmt"
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
