package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/storetest"
)

// frontIP is the loopback address the Kamailio front listens and sends
// from: the nodes trust it, and no client uses it.
const frontIP = "127.0.0.20"

// Kamailio is a kamailio process running configs/kamailio/kamailio.cfg.
type Kamailio struct {
	t       *testing.T
	SIPPort int
	WSPort  int
	ctl     string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

// startKamailio runs the repository's Kamailio configuration on frontIP
// in front of the given nodes' SIP listeners, probing them every ping
// seconds.
func startKamailio(t *testing.T, ping int, nodes ...*Switch) *Kamailio {
	t.Helper()
	dir := t.TempDir()
	k := &Kamailio{t: t, SIPPort: freePort(t), WSPort: freePort(t), ctl: "unix:" + filepath.Join(dir, "ctl"),
		logPath: filepath.Join(dir, "kamailio.log"), done: make(chan struct{})}
	var list strings.Builder
	for _, n := range nodes {
		fmt.Fprintf(&list, "1 sip:%s:%d\n", n.IP, n.SIPPort)
	}
	dsList := filepath.Join(dir, "dispatcher.list")
	if err := os.WriteFile(dsList, []byte(list.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := filepath.Abs("../configs/kamailio/kamailio.cfg")
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(k.logPath)
	if err != nil {
		t.Fatal(err)
	}
	k.cmd = exec.Command("kamailio", "-DD", "-E", "-f", cfg, "-Y", dir, "-m", "64", "-M", "8",
		"-A", "LISTEN_IP="+frontIP, "-A", "SIP_PORT="+strconv.Itoa(k.SIPPort), "-A", "WS_PORT="+strconv.Itoa(k.WSPort),
		"-A", fmt.Sprintf("DISPATCHER_LIST=%q", dsList), "-A", fmt.Sprintf("CTL_SOCKET=%q", k.ctl),
		"-A", "PING_INTERVAL="+strconv.Itoa(ping), "-A", "NODE_TIMEOUT=1000")
	k.cmd.Dir = dir
	k.cmd.Stdout, k.cmd.Stderr = logf, logf
	if err := k.cmd.Start(); err != nil {
		t.Fatalf("kamailio: %v", err)
	}
	go func() { _ = k.cmd.Wait(); logf.Close(); close(k.done) }()
	t.Cleanup(func() {
		_ = k.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-k.done:
		case <-time.After(10 * time.Second):
			_ = k.cmd.Process.Kill()
			<-k.done
		}
		if t.Failed() || os.Getenv("KAMLOG") != "" {
			b, _ := os.ReadFile(k.logPath)
			lines := strings.Split(string(b), "\n")
			t.Logf("kamailio log (last lines):\n%s", strings.Join(lines[max(0, len(lines)-600):], "\n"))
		}
	})
	return k
}

// nodes returns the dispatcher's flags by node port: "AP" for a node
// in use, "IP" for one probing marked down.
func (k *Kamailio) nodes() map[int]string {
	out, err := exec.Command("kamcmd", "-s", k.ctl, "dispatcher.list").CombinedOutput()
	if err != nil {
		return nil
	}
	got := map[int]string{}
	for _, dest := range strings.Split(string(out), "DEST:")[1:] {
		var port int
		var flags string
		for _, line := range strings.Split(dest, "\n") {
			f := strings.Fields(line)
			if len(f) != 2 {
				continue
			}
			switch f[0] {
			case "URI:":
				port, _ = strconv.Atoi(f[1][strings.LastIndex(f[1], ":")+1:])
			case "FLAGS:":
				flags = f[1]
			}
		}
		got[port] = flags
	}
	return got
}

// waitNodes waits until the dispatcher shows each node port with flags.
func (k *Kamailio) waitNodes(want map[int]string) {
	k.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := k.nodes()
		ok := len(got) == len(want)
		for p, f := range want {
			ok = ok && got[p] == f
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("kamailio dispatcher = %v, want %v", got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestKamailioFront runs the repository's Kamailio configuration in front
// of two switch nodes on one PostgreSQL database: a browser registers over
// WebSocket through it, sipp calls through it are spread over both nodes
// and each call's BYE reaches its node, a password guesser behind it is
// banned by its own address while another client behind it still calls,
// and once a node is killed, probing takes it out and every new call goes
// to the other.
func TestKamailioFront(t *testing.T) {
	needTool(t, "kamailio", "kamailio")
	needTool(t, "kamcmd", "kamailio")
	const failures = 3 // wrong passwords that ban a source
	storeURL := storetest.PostgresURL(t)
	carrierPort := freePort(t)
	node := func(name string) Options {
		o := carrierAt("127.0.0.5", carrierPort) // 127.0.0.1, the guesser's address, is no trunk's
		o.StoreURL = storeURL
		o.Node = name
		// The nodes trust the front, and share the secret of their nonces.
		o.SIPExtra = fmt.Sprintf("trusted_proxies: [%s]\n  auth_secret: kamailio-e2e-nonce-secret", frontIP)
		o.Extra = fmt.Sprintf("guard: {failures: %d}\n", failures)
		return o
	}
	a, b := startSwitch(t, node("node-a")), startSwitch(t, node("node-b"))
	a.Account("alice", "secret") // one database: both nodes know her
	k := startKamailio(t, 1, a, b)
	k.waitNodes(map[int]string{a.SIPPort: "AP", b.SIPPort: "AP"})

	const calls, later = 6, 4
	uas := startSipp(t, carrier{answer: "200", rtpPort: freePort(t)}.scenario(), "-i", "127.0.0.5", "-p", strconv.Itoa(carrierPort), "-m", strconv.Itoa(calls+2))
	front := fmt.Sprintf("%s:%d", frontIP, k.SIPPort)
	// call places n calls from the address from through the front, with
	// Call-IDs from the sipp pattern callIDs; forged is a header line the
	// client adds to its requests. The app hangs up (end "bye"), or waits
	// for the switch's BYE ("wait-bye").
	call := func(from, callIDs, forged, end string, n int, args ...string) *Sipp {
		t.Helper()
		app := appCall{user: "alice", password: "secret", holdMS: 300, end: end}
		scenario := app.scenario()
		if forged != "" {
			scenario = strings.ReplaceAll(scenario, "User-Agent: secret-app-client/9.9", "User-Agent: secret-app-client/9.9\n      "+forged)
		}
		return k.dial(t, scenario, from, "+442079460018", callIDs, n, 10, args...)
	}
	attempts := func() (float64, float64) {
		return a.Metric("dialtone_call_attempts_total"), b.Metric("dialtone_call_attempts_total")
	}

	t.Run("websocket register", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p, err := dialWS(ctx, t, fmt.Sprintf("ws://%s:%d/", frontIP, k.WSPort), nil)
		if err != nil {
			t.Fatalf("WebSocket to the front: %v", err)
		}
		msg := func(cseq int, auth string) string {
			return fmt.Sprintf("REGISTER sip:dialtone SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK-k%d\r\nMax-Forwards: 70\r\n"+
				"From: <sip:alice@dialtone>;tag=k1\r\nTo: <sip:alice@dialtone>\r\nCall-ID: kam-ws-1@df7jal23ls0d.invalid\r\nCSeq: %d REGISTER\r\n"+
				"Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws>\r\nSupported: path, outbound\r\nExpires: 300\r\n%sContent-Length: 0\r\n\r\n", cseq, cseq, auth)
		}
		res, err := p.request(ctx, msg(1, ""))
		if err != nil || !strings.HasPrefix(res, "SIP/2.0 401") {
			t.Fatalf("REGISTER over WebSocket through the front = %q, %v; want 401", res, err)
		}
		if !strings.Contains(res, `algorithm=MD5`) || strings.Contains(res, "SHA-256") {
			t.Errorf("challenge to a WebSocket client behind the front:\n%s\nwant MD5 alone (sip.ws_auth_algorithms)", res)
		}
		res, err = p.request(ctx, msg(2, digestAuth("Authorization", res, "alice", "secret", "REGISTER", "sip:dialtone")))
		if err != nil || !strings.HasPrefix(res, "SIP/2.0 200") {
			t.Fatalf("REGISTER with credentials = %q, %v; want 200", res, err)
		}
		// RFC 3327: the node kept the front's Path, with the browser's
		// connection in it, and echoes it to a UA that supports path.
		if !strings.Contains(res, "Path: <sip:"+frontIP) || !strings.Contains(res, "received=") {
			t.Errorf("200 to REGISTER:\n%s\nwant the front's Path with received=", res)
		}
		if regs := a.Metric("dialtone_registrations") + b.Metric("dialtone_registrations"); regs != 1 {
			t.Errorf("registrations over both nodes = %v, want 1", regs)
		}
	})

	t.Run("calls spread over both nodes", func(t *testing.T) {
		uac := call("127.0.0.3", "kam-%u@e2e", "", "bye", calls)
		if st := uac.Wait(45 * time.Second); st.Successful != calls {
			t.Fatalf("calls through the front: %d of %d successful\n%s", st.Successful, calls, uac.Errors())
		}
		na, nb := attempts()
		t.Logf("node a took %v calls, node b %v", na, nb)
		if na < 1 || nb < 1 || na+nb != calls {
			t.Errorf("calls per node = %v and %v, want %d spread over both", na, nb, calls)
		}
		// Every call ended by the app's BYE, which reached the node that
		// had the call (the other one would answer 481 and the call would
		// end only at the media timeout).
		cdrs := a.CDRs(calls)
		if len(cdrs) != calls {
			t.Fatalf("%d CDRs, want %d", len(cdrs), calls)
		}
		for _, c := range cdrs {
			if c.HangupBy != dialtone.PartyCaller || c.Duration > 5*time.Second {
				t.Errorf("CDR %s: hung up by %q after %v, want the caller's BYE at once", c.ID, c.HangupBy, c.Duration)
			}
		}
	})

	t.Run("guesser banned by its own address", func(t *testing.T) {
		// 20 wrong guesses from 127.0.0.1, each a REGISTER with a Call-ID
		// of its own, so the front spreads them over both nodes.
		guesser := startSipp(t, guessScenario, front, "-i", "127.0.0.1", "-auth_uri", "dialtone", "-cid_str", "guess-%u@e2e",
			"-p", strconv.Itoa(freePort(t)), "-m", "20", "-r", "20", "-timeout", "15s")
		guesser.Wait(30 * time.Second)
		for _, sw := range []*Switch{a, b} {
			bans := sw.CLI("guard", "bans")
			if !strings.Contains(bans, "127.0.0.1 ") || !strings.Contains(bans, "auth") || strings.Contains(bans, frontIP) {
				t.Errorf("dialtone guard bans =\n%s\nwant the guesser 127.0.0.1 banned for auth, not the front %s", bans, frontIP)
			}
			// The ban comes with the failures-th; a guess or two already
			// past the door by then are still checked, the rest are not.
			if n := sw.sample(`dialtone_guard_auth_failures_total`); n < failures || n > failures+2 {
				t.Errorf("a node checked %v of 20 wrong passwords, want %d (or a guess or two in flight more): the rest refused unchecked", n, failures)
			}
		}
		// The guesser's address gets no call through; another client's does.
		banned := call("127.0.0.1", "kam-banned-%u@e2e", "", "bye", 1, "-timeout", "8s")
		if st := banned.Wait(20 * time.Second); st.Successful != 0 {
			t.Errorf("a call from the banned guesser's address: %d successful, want none", st.Successful)
		}
		// The front drops a header a client forges (here naming the
		// banned address): a node would refuse two.
		ok := call("127.0.0.3", "kam-ok-%u@e2e", "X-Dialtone-Source: 127.0.0.1:5060;udp", "bye", 2)
		if st := ok.Wait(30 * time.Second); st.Successful != 2 {
			t.Errorf("calls of another client through the same front: %d of 2 successful\n%s", st.Successful, ok.Errors())
		}
		if st := uas.Wait(10 * time.Second); st.Successful != calls+2 || st.Failed != 0 {
			t.Errorf("carrier: %d successful, %d failed calls, want %d successful\n%s", st.Successful, st.Failed, calls+2, uas.Errors())
		}
	})

	// Now the carrier hangs up: the node's BYE to the app goes through
	// the front along the INVITE's Record-Route.
	t.Run("dead node taken out", func(t *testing.T) {
		beforeA, _ := attempts()
		b.Kill()
		k.waitNodes(map[int]string{a.SIPPort: "AP", b.SIPPort: "IP"})
		hangs := startSipp(t, carrier{answer: "200", rtpPort: freePort(t), byeMS: 300}.scenario(), "-i", "127.0.0.5", "-p", strconv.Itoa(carrierPort), "-m", strconv.Itoa(later))
		uac := call("127.0.0.3", "kam-%u@e2e", "", "wait-bye", later) // Call-IDs that hashed to both nodes before
		if st := uac.Wait(30 * time.Second); st.Successful != later {
			t.Errorf("calls with a node down, the carrier hanging up: %d of %d successful\n%s", st.Successful, later, uac.Errors())
		}
		if na, _ := attempts(); na-beforeA != later {
			t.Errorf("the live node took %v of %d new calls, want all", na-beforeA, later)
		}
		if st := hangs.Wait(10 * time.Second); st.Successful != later {
			t.Errorf("carrier: %d of %d calls successful\n%s", st.Successful, later, hangs.Errors())
		}
	})

	// A front that has not probed the dead node yet sends it the calls
	// that hash to it; each goes to the live node once the dead one has
	// not answered within NODE_TIMEOUT, and the dead one is marked down.
	t.Run("failover before probing", func(t *testing.T) {
		k2 := startKamailio(t, 600, a, b)
		beforeA, _ := attempts()
		uas := startSipp(t, carrier{answer: "200", rtpPort: freePort(t)}.scenario(), "-i", "127.0.0.5", "-p", strconv.Itoa(carrierPort), "-m", strconv.Itoa(later))
		app := appCall{user: "alice", password: "secret", holdMS: 300, end: "bye"}
		uac := k2.dial(t, app.scenario(), "127.0.0.3", "+442079460018", "kam-%u@e2e", later, 10)
		if st := uac.Wait(30 * time.Second); st.Successful != later {
			t.Errorf("calls through a front that still takes the dead node for live: %d of %d successful\n%s", st.Successful, later, uac.Errors())
		}
		if na, _ := attempts(); na-beforeA != later {
			t.Errorf("the live node took %v of %d calls, want all", na-beforeA, later)
		}
		if got := k2.nodes(); got[b.SIPPort] != "IP" {
			t.Errorf("kamailio dispatcher = %v, want the dead node %d marked down (IP)", got, b.SIPPort)
		}
		uas.Wait(10 * time.Second)
	})
}

// dial places n calls through the front from the loopback address from,
// rate a second, running scenario (an appCall's, usually) to number with
// Call-IDs from the sipp pattern callIDs, which pick the nodes.
func (k *Kamailio) dial(t *testing.T, scenario, from, number, callIDs string, n, rate int, args ...string) *Sipp {
	t.Helper()
	front := fmt.Sprintf("%s:%d", frontIP, k.SIPPort)
	return startSipp(t, scenario, append([]string{front, "-i", from, "-s", number, "-auth_uri", number + "@" + front,
		"-cid_str", callIDs, "-p", strconv.Itoa(freePort(t)), "-mp", strconv.Itoa(sippMediaPort(t)),
		"-m", strconv.Itoa(n), "-r", strconv.Itoa(rate), "-l", strconv.Itoa(n)}, args...)...)
}

// guessScenario is a password guesser: REGISTER, and the answer to its
// challenge with a wrong password.
const guessScenario = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="guess">
  <send retrans="500"><![CDATA[
      REGISTER sip:dialtone SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:alice@dialtone>;tag=g[call_number]
      To: <sip:alice@dialtone>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:alice@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
      REGISTER sip:dialtone SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:alice@dialtone>;tag=g[call_number]
      To: <sip:alice@dialtone>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:alice@[local_ip]:[local_port]>
      [authentication username=alice password=guess]
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="403"/>
</scenario>
`
