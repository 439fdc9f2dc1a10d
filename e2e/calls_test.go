package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
)

var stores = []string{"sqlite", "postgres"}

// dialApp runs calls app calls (at rate per second) against the switch.
func dialApp(t *testing.T, sw *Switch, a appCall, number string, calls, rate int) *Sipp {
	t.Helper()
	return startSipp(t, a.scenario(), fmt.Sprintf("127.0.0.1:%d", sw.SIPPort), "-s", number,
		"-p", strconv.Itoa(freePort(t)), "-mp", strconv.Itoa(sippMediaPort(t)),
		"-m", strconv.Itoa(calls), "-r", strconv.Itoa(rate), "-l", strconv.Itoa(calls))
}

// runCarrier starts a sipp carrier taking up to calls calls on port.
func runCarrier(t *testing.T, c carrier, port, calls int) *Sipp {
	t.Helper()
	s := startSipp(t, c.scenario(), "-p", strconv.Itoa(port), "-m", strconv.Itoa(calls))
	time.Sleep(200 * time.Millisecond) // let it bind
	return s
}

func TestCallsLoad(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			const calls, rate, holdMS = 100, 20, 2000
			carrierPort := freePort(t)
			// 4 ports a call: every call gets ports no other call used.
			sw := startSwitch(t, Options{Store: store, Trunks: []int{carrierPort}, MediaPorts: 4*calls + 40})
			sw.Account("alice", "secret")
			rx := newReceiver(t)
			uas := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, carrierPort, calls)
			uac := dialApp(t, sw, appCall{user: "alice", password: "secret", pcap: true, holdMS: holdMS, end: "bye"}, "+442079460018", calls, rate)

			st := uac.Wait(2 * time.Minute)
			if !st.ExitOK || st.Successful != calls || st.Failed != 0 {
				t.Fatalf("app sipp: %d successful, %d failed (exit ok %v), want %d successful\n%s", st.Successful, st.Failed, st.ExitOK, calls, uac.Errors())
			}
			if cs := uas.Wait(30 * time.Second); cs.Successful != calls {
				t.Errorf("carrier sipp: %d successful calls, want %d (a failed call here may be topology leaking)\n%s", cs.Successful, calls, uas.Errors())
			}
			sources, packets := rx.Counts()
			if sources < calls || packets < calls*50 {
				t.Errorf("carrier received RTP from %d switch ports, %d packets; want %d ports and at least %d packets", sources, packets, calls, calls*50)
			}
			cdrs := sw.CDRs(calls)
			if len(cdrs) != calls {
				t.Fatalf("%d CDRs, want %d", len(cdrs), calls)
			}
			for i, c := range cdrs {
				checkAnswered(t, i, c, dialtone.PartyCaller)
				held := float64(holdMS) / 1000
				if d := float64(c.BilledSeconds) - held; d < -1 || d > 1 {
					t.Errorf("CDR %d billed %d s, want within 1 s of the %v s hold", i, c.BilledSeconds, held)
				}
				if d := c.Duration.Seconds() - held; d < -1 || d > 1 {
					t.Errorf("CDR %d duration %v, want within 1 s of the %v s hold", i, c.Duration, held)
				}
				if c.AppPackets == 0 {
					t.Errorf("CDR %d: no app RTP packets counted", i)
				}
			}
			if active := sw.Metric("dialtone_calls_active"); active != 0 {
				t.Errorf("dialtone_calls_active = %v after all calls ended, want 0", active)
			}
		})
	}
}

func checkAnswered(t *testing.T, i int, c *dialtone.CDR, hangup dialtone.Party) {
	t.Helper()
	if c.Disposition != dialtone.Answered || c.SIPCode != 200 {
		t.Errorf("CDR %d disposition = %q %d, want %q 200", i, c.Disposition, c.SIPCode, dialtone.Answered)
	}
	if c.HangupBy != hangup {
		t.Errorf("CDR %d hangup by %q, want %q", i, c.HangupBy, hangup)
	}
	if c.AppCallID == "" || c.CarrierCallID == "" || c.AppCallID == c.CarrierCallID {
		t.Errorf("CDR %d call ids app %q carrier %q, want two different ids", i, c.AppCallID, c.CarrierCallID)
	}
	if c.Trunk != "carrier1" || c.DialedE164 != "+442079460018" || c.Account != "alice" {
		t.Errorf("CDR %d trunk %q e164 %q account %q, want carrier1 +442079460018 alice", i, c.Trunk, c.DialedE164, c.Account)
	}
	if c.AppCodec != "PCMA" || c.CarrierCodec != "PCMA" {
		t.Errorf("CDR %d codecs %q/%q, want PCMA/PCMA", i, c.AppCodec, c.CarrierCodec)
	}
	if c.AnswerAt.IsZero() || c.RingingAt.IsZero() || c.SetupAt.After(c.AnswerAt) || c.AnswerAt.After(c.EndAt) {
		t.Errorf("CDR %d times setup %v ringing %v answer %v end %v out of order", i, c.SetupAt, c.RingingAt, c.AnswerAt, c.EndAt)
	}
}

func TestCallOutcomes(t *testing.T) {
	tests := []struct {
		name        string
		app         appCall
		number      string
		carrier     *carrier // nil: no carrier INVITE may arrive
		mediaTO     time.Duration
		disposition dialtone.Disposition
		code        int
		hangup      dialtone.Party
		noCDR       bool
	}{
		{name: "busy", app: appCall{end: "486"}, carrier: &carrier{answer: "486"}, disposition: dialtone.Busy, code: 486},
		{name: "cancel before answer", app: appCall{end: "cancel"}, carrier: &carrier{answer: "ring"}, disposition: dialtone.Cancelled, code: 487, hangup: dialtone.PartyCaller},
		{name: "answer crosses cancel", app: appCall{end: "cancel"}, carrier: &carrier{answer: "cross"}, disposition: dialtone.Cancelled, code: 487, hangup: dialtone.PartyCaller},
		{name: "carrier hangs up first", app: appCall{end: "wait-bye", pcap: true}, carrier: &carrier{answer: "200", byeMS: 1500}, disposition: dialtone.Answered, code: 200, hangup: dialtone.PartyCallee},
		{name: "app hangs up first", app: appCall{end: "bye", pcap: true, holdMS: 1500}, carrier: &carrier{answer: "200"}, disposition: dialtone.Answered, code: 200, hangup: dialtone.PartyCaller},
		{name: "early media", app: appCall{end: "bye", holdMS: 500}, carrier: &carrier{answer: "200", early: true}, disposition: dialtone.Answered, code: 200, hangup: dialtone.PartyCaller},
		{name: "media timeout", app: appCall{end: "wait-bye"}, carrier: &carrier{answer: "200"}, mediaTO: 2 * time.Second, disposition: dialtone.Answered, code: 200, hangup: dialtone.PartySwitch},
		{name: "carrier failure", app: appCall{end: "503"}, carrier: &carrier{answer: "503"}, disposition: dialtone.Failed, code: 503},
		{name: "wrong password", app: appCall{password: "guess", end: "403"}, noCDR: true},
		{name: "unknown user", app: appCall{user: "mallory", end: "403"}, noCDR: true},
		{name: "disabled account", app: appCall{user: "dave", end: "403"}, noCDR: true},
		{name: "invalid number", app: appCall{end: "484"}, number: "12", disposition: dialtone.Failed, code: 484},
		{name: "no route", app: appCall{end: "404"}, number: "+33612345678", disposition: dialtone.Failed, code: 404},
	}
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					carrierPort := freePort(t)
					sw := startSwitch(t, Options{Store: store, Trunks: []int{carrierPort}, MediaTimeout: tt.mediaTO,
						Routes: "  - {prefix: \"44\", trunks: [carrier1]}\n  - {prefix: \"1\", trunks: [carrier1]}\n"})
					sw.Account("alice", "secret")
					sw.Account("dave", "secret")
					sw.CLI("account", "disable", "dave")

					rx := newReceiver(t)
					var uas *Sipp
					if tt.carrier != nil {
						c := *tt.carrier
						c.rtpPort = rx.Port
						uas = runCarrier(t, c, carrierPort, 1)
					} else {
						// A carrier that must see nothing: any INVITE makes it succeed.
						uas = runCarrier(t, carrier{answer: "486"}, carrierPort, 1)
					}
					app := tt.app
					if app.user == "" {
						app.user = "alice"
					}
					if app.password == "" {
						app.password = "secret"
					}
					number := tt.number
					if number == "" {
						number = "+442079460018"
					}
					uac := dialApp(t, sw, app, number, 1, 1)
					st := uac.Wait(60 * time.Second)
					if !st.ExitOK || st.Successful != 1 {
						t.Fatalf("app sipp: %d successful, %d failed, want the scenario to pass\n%s", st.Successful, st.Failed, uac.Errors())
					}
					var cs Stats
					if tt.carrier == nil {
						cs = uas.Stop()
					} else {
						cs = uas.Wait(10 * time.Second)
					}
					if tt.carrier == nil && cs.Created+cs.Successful != 0 {
						t.Errorf("carrier saw %d calls, want none", cs.Successful)
					}
					if tt.carrier != nil && cs.Successful != 1 {
						t.Errorf("carrier sipp: %d successful, want 1\n%s", cs.Successful, uas.Errors())
					}
					if tt.noCDR {
						time.Sleep(200 * time.Millisecond)
						if cdrs := sw.CDRs(0); len(cdrs) != 0 {
							t.Errorf("%d CDRs for an unauthenticated call, want none", len(cdrs))
						}
						return
					}
					cdrs := sw.CDRs(1)
					if len(cdrs) != 1 {
						t.Fatalf("%d CDRs, want 1", len(cdrs))
					}
					c := cdrs[0]
					if c.Disposition != tt.disposition || c.SIPCode != tt.code || c.HangupBy != tt.hangup {
						t.Errorf("CDR = %s %d %q hangup %q, want %s %d hangup %q", c.Disposition, c.SIPCode, c.SIPReason, c.HangupBy, tt.disposition, tt.code, tt.hangup)
					}
					if tt.code == 200 {
						checkAnswered(t, 0, c, tt.hangup)
					}
					if tt.disposition == dialtone.Busy && (c.BilledSeconds != 0 || !c.AnswerAt.IsZero()) {
						t.Errorf("busy CDR billed %d s, answered at %v; want nothing billed", c.BilledSeconds, c.AnswerAt)
					}
				})
			}
		})
	}
}

func TestRestartKeepsData(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			carrierPort := freePort(t)
			sw := startSwitch(t, Options{Store: store, Trunks: []int{carrierPort}})
			sw.Account("alice", "secret")
			call := func() {
				t.Helper()
				rx := newReceiver(t)
				uas := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, carrierPort, 1)
				st := dialApp(t, sw, appCall{user: "alice", password: "secret", holdMS: 200, end: "bye"}, "+442079460018", 1, 1).Wait(30 * time.Second)
				if st.Successful != 1 {
					t.Fatalf("call: %d successful, want 1", st.Successful)
				}
				uas.Wait(5 * time.Second)
			}
			call()
			if n := len(sw.CDRs(1)); n != 1 {
				t.Fatalf("%d CDRs before the restart, want 1", n)
			}
			sw.Stop()
			sw.Start()
			if out := sw.CLI("account", "show", "alice"); !strings.Contains(out, "active") {
				t.Errorf("after restart, account show alice = %q", out)
			}
			call()
			if n := len(sw.CDRs(2)); n != 2 {
				t.Fatalf("%d CDRs after restart and a second call, want 2", n)
			}
			// A crash right after the switch has finished a call keeps its CDR.
			call()
			sw.waitActive(0, 10*time.Second)
			sw.Kill()
			if sw.store != nil {
				sw.store.Close()
				sw.store = nil
			}
			sw.Start()
			if n := len(sw.CDRs(3)); n != 3 {
				t.Errorf("%d CDRs after kill -9, want 3", n)
			}
		})
	}
}

// TestTortureMessages sends the RFC 4475 torture messages shipped with
// sipgo, and some garbage, and checks the switch stays up and leaks nothing.
func TestTortureMessages(t *testing.T) {
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{freePort(t)}})
	sw.Account("alice", "secret")
	dir := tortureDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.dat"))
	if len(files) < 40 {
		t.Fatalf("found %d torture messages in %s, want the RFC 4475 set", len(files), dir)
	}
	conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", sw.SIPPort))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	garbage := [][]byte{
		[]byte("\x00\x01\x02\x03"),
		[]byte("INVITE sip:1@h SIP/2.0\r\nVia: SIP/2.0/UDP"),
		append([]byte("OPTIONS sip:x SIP/2.0\r\nX: "), make([]byte, 60000)...),
		[]byte("SIP/2.0 200 OK\r\n\r\n"),
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		garbage = append(garbage, b)
	}
	for _, msg := range garbage {
		_, _ = conn.Write(msg)
		tcp, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", sw.SIPPort))
		if err == nil {
			_, _ = tcp.Write(msg)
			tcp.Close()
		}
	}
	time.Sleep(time.Second)
	if code, _ := sw.HTTP("/healthz"); code != 200 {
		t.Fatalf("/healthz = %d after torture messages, want 200", code)
	}
	// An OPTIONS still gets 200.
	_, _ = conn.Write([]byte(fmt.Sprintf("OPTIONS sip:ping@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKping1\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: ping-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		sw.SIPPort, conn.LocalAddr().(*net.UDPAddr).Port)))
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no answer to OPTIONS after the torture messages: %v", err)
		}
		if strings.Contains(string(buf[:n]), "ping-1") {
			if !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
				t.Errorf("OPTIONS answered %q, want 200", strings.SplitN(string(buf[:n]), "\r\n", 2)[0])
			}
			break
		}
	}
	sw.waitActive(0, 40*time.Second)
	if active := sw.Metric("dialtone_calls_active"); active != 0 {
		t.Errorf("dialtone_calls_active = %v after torture messages, want 0 (a leaked call)", active)
	}
}

// tortureDir is where the module cache keeps the RFC 4475 torture messages
// of the sipgo release go.mod requires (the copy in third_party/sipgo that
// go.mod's replace points to leaves its tests out).
func tortureDir(t *testing.T) string {
	t.Helper()
	version, err := execOutput("go", "list", "-m", "-f", "{{.Version}}", "github.com/emiago/sipgo")
	if err != nil {
		t.Fatal(err)
	}
	out, err := execOutput("go", "mod", "download", "-json", "github.com/emiago/sipgo@"+strings.TrimSpace(version))
	if err != nil {
		t.Fatal(err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal([]byte(out), &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download: %v: %s", err, out)
	}
	return filepath.Join(mod.Dir, "sip", "testdata", "torture")
}
