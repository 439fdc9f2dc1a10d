package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
)

// readmeAccountLine is the baresip account line README.md tells a new
// user to paste, with the port of the switch under test added to its host.
func readmeAccountLine(t *testing.T, sipPort int) string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("`(<sip:demo@127\\.0\\.0\\.1;transport=udp>;auth_pass=demo;regint=0)`").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md no longer gives the baresip account line <sip:demo@127.0.0.1;transport=udp>;auth_pass=demo;regint=0")
	}
	return strings.Replace(string(m[1]), "@127.0.0.1;", fmt.Sprintf("@127.0.0.1:%d;", sipPort), 1)
}

// TestBaresipReadmeCall: Debian's baresip, set up as README.md says,
// calls through a switch on its default sip section: it answers the
// challenge, the carrier sees the INVITE and answers, baresip hangs up,
// and the CDR says ANSWERED.
func TestBaresipReadmeCall(t *testing.T) {
	carrierPort := freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort}})
	sw.Account("demo", "demo")
	rx := newReceiver(t)
	uas := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port, expect: []string{"INVITE sip:[+]?12125550100@"}}, carrierPort, 1)
	phone := startBaresip(t, readmeAccountLine(t, sw.SIPPort))

	phone.Command("dial", "2125550100")
	phone.WaitEvent("CALL_ESTABLISHED", 15*time.Second)
	time.Sleep(time.Second)
	phone.Command("hangup", "")
	phone.WaitEvent("CALL_CLOSED", 10*time.Second)

	if st := uas.Wait(15 * time.Second); st.Successful != 1 {
		t.Errorf("carrier sipp: %d successful calls, want 1\n%s", st.Successful, uas.Errors())
	}
	cdrs := sw.CDRs(1)
	if len(cdrs) != 1 {
		t.Fatalf("%d CDRs, want 1", len(cdrs))
	}
	c := cdrs[0]
	if c.Disposition != dialtone.Answered || c.Account != "demo" || c.DialedE164 != "+12125550100" || c.Trunk != "carrier1" || c.HangupBy != dialtone.PartyCaller {
		t.Errorf("CDR = %s %d account %q dialed %q trunk %q hangup %q; want ANSWERED, demo, +12125550100, carrier1, caller",
			c.Disposition, c.SIPCode, c.Account, c.DialedE164, c.Trunk, c.HangupBy)
	}
}

// TestBaresipUnansweredChallengeIsLogged: with SHA-256 offered beside
// MD5, Debian's baresip gives up on the challenge without a word to the
// switch; the switch's log says so, naming the client and what it was offered.
func TestBaresipUnansweredChallengeIsLogged(t *testing.T) {
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{freePort(t)}, SIPExtra: "auth_algorithms: [MD5, SHA-256]"})
	sw.Account("demo", "demo")
	phone := startBaresip(t, readmeAccountLine(t, sw.SIPPort))
	phone.Command("dial", "2125550100")
	phone.WaitEvent("CALL_CLOSED", 15*time.Second)

	deadline := time.Now().Add(15 * time.Second)
	for {
		log, _ := os.ReadFile(filepath.Join(sw.dir, "switch.log"))
		line := ""
		for _, l := range strings.Split(string(log), "\n") {
			if strings.Contains(l, "digest challenge not answered") {
				line = l
			}
		}
		if line != "" {
			for _, want := range []string{"method=INVITE", "baresip", "offered=MD5,SHA-256"} {
				if !strings.Contains(line, want) {
					t.Errorf("log line %q does not name %q", line, want)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the switch did not log the challenge baresip left unanswered")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Baresip is a headless Debian baresip driven over its ctrl_tcp interface
// (netstrings of JSON).
type Baresip struct {
	t      *testing.T
	conn   net.Conn
	events chan map[string]any
	out    *os.File
	dir    string
}

func startBaresip(t *testing.T, account string) *Baresip {
	t.Helper()
	if _, err := exec.LookPath("baresip"); err != nil {
		if os.Getenv("DIALTONE_REQUIRE_ALL") == "1" {
			t.Fatal("baresip is required (DIALTONE_REQUIRE_ALL=1): make deps-test installs it")
		}
		t.Skip("baresip is not installed (make deps-test installs it)")
	}
	dir := t.TempDir()
	sipPort, ctrlPort, rtpMin := freePort(t), freePort(t), freePort(t)
	takePorts(20)
	config := fmt.Sprintf(`poll_method epoll
sip_listen 127.0.0.1:%d
audio_player aubridge,nil
audio_source ausine,440
ausrc_srate 48000
ausrc_channels 2
audio_alert aubridge,nil
rtp_ports %d-%d
net_interface 127.0.0.1
module_path /usr/lib/baresip/modules
module g711.so
module ausine.so
module aubridge.so
module_app account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:%d
`, sipPort, rtpMin, rtpMin+19, ctrlPort)
	for name, text := range map[string]string{"config": config, "accounts": account + "\n", "contacts": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := os.Create(filepath.Join(dir, "baresip.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("baresip", "-f", dir)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("baresip: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	b := &Baresip{t: t, events: make(chan map[string]any, 64), out: out, dir: dir}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		out.Close()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "baresip.log"))
			t.Logf("baresip output:\n%s", log)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.conn, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ctrlPort))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "baresip.log"))
			t.Fatalf("baresip's ctrl_tcp did not open: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() { b.conn.Close() })
	go b.read()
	return b
}

// read turns the netstrings baresip sends into events until the
// connection closes.
func (b *Baresip) read() {
	defer close(b.events)
	r := bufio.NewReader(b.conn)
	for {
		head, err := r.ReadString(':')
		if err != nil {
			return
		}
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(head, ":")))
		if err != nil || n < 0 || n > 1<<20 {
			return
		}
		body := make([]byte, n+1) // and the closing comma
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		var msg map[string]any
		if json.Unmarshal(body[:n], &msg) == nil {
			b.events <- msg
		}
	}
}

// Command sends one command, as the menu module names them.
func (b *Baresip) Command(command, params string) {
	b.t.Helper()
	msg, _ := json.Marshal(map[string]string{"command": command, "params": params, "token": command})
	if _, err := fmt.Fprintf(b.conn, "%d:%s,", len(msg), msg); err != nil {
		b.t.Fatalf("baresip %s: %v", command, err)
	}
}

// WaitEvent waits for an event of the given type (CALL_ESTABLISHED, ...).
func (b *Baresip) WaitEvent(typ string, timeout time.Duration) map[string]any {
	b.t.Helper()
	deadline := time.After(timeout)
	var seen []string
	for {
		select {
		case ev, ok := <-b.events:
			if !ok {
				b.t.Fatalf("baresip closed its control connection waiting for %s (saw %v)", typ, seen)
			}
			if ev["event"] == true {
				seen = append(seen, fmt.Sprint(ev["type"]))
				if ev["type"] == typ {
					return ev
				}
			}
		case <-deadline:
			b.t.Fatalf("baresip: no %s within %v (saw %v)", typ, timeout, seen)
		}
	}
}
