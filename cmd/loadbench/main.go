// Command loadbench measures the switch under a sipp step load: sipp places
// authenticated calls through a real dialtone process to a sipp carrier,
// each step at a higher rate, and reports the highest rate with no failed
// call and at most 0.1% retransmissions, and the switch's memory.
//
//	go run ./cmd/loadbench -bin bin/dialtone
//
// It is a benchmark, not a test: it prints figures and asserts nothing.
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dialtone/dialtone/internal/benchproc"
)

func main() {
	bin := flag.String("bin", "bin/dialtone", "dialtone binary")
	rates := flag.String("rates", "250,500,750,1000,1250,1500", "calls per second, one step each")
	step := flag.Duration("step", 10*time.Second, "length of each step")
	soak := flag.Duration("soak", 60*time.Second, "length of the run at the best clean rate (memory check); 0 skips it")
	hold := flag.Duration("hold", 0, "how long each call stays up")
	linger := flag.Duration("linger", 0, "how long the switch stays up after the load, its RSS printed every 10 s: to see memory the calls left behind (and to profile it at the admin address)")
	guarded := flag.Bool("guard", true, "send the app's calls from 127.0.0.2, which the guard checks (its per-source rate raised so that it never throttles the load); false: from 127.0.0.1, the carrier's allow-listed address, which the guard lets through unchecked")
	flag.Parse()
	src := "127.0.0.1"
	if *guarded {
		src = "127.0.0.2"
	}
	if err := run(*bin, *rates, *step, *soak, *hold, *linger, src); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

type result struct {
	timeline         []int64 // RSS in KiB, every 10 s
	rate             int
	success, failed  int
	retrans, msgs    int
	rssStart, rssEnd int64         // KiB
	cpu              time.Duration // the switch's CPU time (user+system) over the step
	rssMax           int64
}

func (r result) clean() bool {
	return r.failed == 0 && r.success > 0 && float64(r.retrans) <= 0.001*float64(max(r.msgs, 1))
}

func run(bin, rates string, step, soak, hold, linger time.Duration, src string) error {
	if _, err := exec.LookPath("sipp"); err != nil {
		return errors.New("sipp is not installed (make deps installs it)")
	}
	dir, err := os.MkdirTemp("", "loadbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	sipPort, httpPort, carrierPort := benchproc.FreePort("udp"), benchproc.FreePort("tcp"), benchproc.FreePort("udp")
	cfg := fmt.Sprintf(`log: {level: warn, format: text}
store: {url: "sqlite://%s/dialtone.db"}
sip:
  realm: dialtone
  advertise: 127.0.0.1
  listen: [{transport: udp, addr: "127.0.0.1:%d"}]
media: {bind: 127.0.0.1, advertise: 127.0.0.1, port_min: 20000, port_max: 39999, timeout: 30s}
trunks: [{name: carrier, address: "127.0.0.1:%d", transport: udp}]
routes: [{prefix: "", trunks: [carrier]}]
http: {listen: "127.0.0.1:%d"}
shutdown: {drain_timeout: 5s}
%s`, dir, sipPort, carrierPort, httpPort, benchproc.LoadAccount)
	cfgPath := filepath.Join(dir, "dialtone.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	uac := strings.Replace(uacScenario, "HOLD_MS", strconv.FormatInt(hold.Milliseconds(), 10), 1)
	for name, body := range map[string]string{"uac.xml": uac, "uas.xml": uasScenario} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			return err
		}
	}
	create := exec.Command(bin, "-c", cfgPath, "account", "create", "load", "--country", "US")
	create.Env = append(os.Environ(), "DIALTONE_PASSWORD=loadpass")
	if out, err := create.CombinedOutput(); err != nil {
		return fmt.Errorf("create account: %v: %s", err, out)
	}

	sw := exec.Command(bin, "-c", cfgPath, "serve")
	sw.Env = os.Environ()
	if v := os.Getenv("LOADBENCH_GOGC"); v != "" {
		sw.Env = append(sw.Env, "GOGC="+v)
	}
	logf, _ := os.Create(filepath.Join(dir, "switch.log"))
	sw.Stdout, sw.Stderr = logf, logf
	if err := sw.Start(); err != nil {
		return err
	}
	defer func() {
		_ = sw.Process.Signal(syscall.SIGINT)
		_ = sw.Wait()
	}()
	if err := benchproc.WaitReady(fmt.Sprintf("http://127.0.0.1:%d/readyz", httpPort)); err != nil {
		return err
	}

	fmt.Printf("switch admin: http://127.0.0.1:%d (metrics, pprof)\n", httpPort)
	fmt.Printf("sipp step load through dialtone (UDP, digest auth, route, B2BUA, RTP ports, CDR write), hold %v, app calls from %s\n", hold, src)
	fmt.Printf("%6s %8s %7s %8s %9s %10s %10s %12s\n", "cps", "calls", "failed", "retrans", "clean", "rss_start", "rss_end", "cpu_us/call")
	best := 0
	for _, f := range strings.Split(rates, ",") {
		rate, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("rate %q: %w", f, err)
		}
		r, err := stepLoad(dir, src, rate, step, hold, sipPort, carrierPort, sw.Process.Pid)
		if err != nil {
			return err
		}
		fmt.Printf("%6d %8d %7d %8d %9v %9dK %9dK %12d\n", rate, r.success+r.failed, r.failed, r.retrans, r.clean(), r.rssStart, r.rssEnd, r.cpu.Microseconds()/int64(max(r.success+r.failed, 1)))
		fmt.Printf("%6s RSS every 10 s (KiB): %v\n", "", r.timeline)
		if !r.clean() {
			break
		}
		best = rate
		time.Sleep(3 * time.Second) // let transactions of the step expire
	}
	fmt.Printf("highest clean rate: %d calls/s\n", best)
	if soak > 0 && best > 0 {
		time.Sleep(35 * time.Second)
		r, err := stepLoad(dir, src, best, soak, hold, sipPort, carrierPort, sw.Process.Pid)
		if err != nil {
			return err
		}
		fmt.Printf("soak %v at %d cps: %d calls, %d failed, %d retransmissions, RSS start %d KiB, max %d KiB, end %d KiB\n",
			soak, best, r.success+r.failed, r.failed, r.retrans, r.rssStart, r.rssMax, r.rssEnd)
		fmt.Printf("RSS every 10 s (KiB): %v\n", r.timeline)
	}
	if linger > 0 {
		var after []int64
		for t := time.Duration(0); t < linger; t += 10 * time.Second {
			time.Sleep(10 * time.Second)
			after = append(after, benchproc.RSS(sw.Process.Pid))
		}
		fmt.Printf("RSS every 10 s after the load (KiB): %v\n", after)
	}
	return nil
}

func stepLoad(dir, src string, rate int, d, hold time.Duration, sipPort, carrierPort, pid int) (result, error) {
	calls := int(float64(rate) * d.Seconds())
	ctx, cancel := context.WithTimeout(context.Background(), d+2*time.Minute)
	defer cancel()
	uas := exec.CommandContext(ctx, "sipp", "-sf", "uas.xml", "-i", "127.0.0.1", "-p", strconv.Itoa(carrierPort),
		"-nostdin", "-cp", strconv.Itoa(benchproc.FreePort("udp")), "-m", strconv.Itoa(calls), "-timeout", fmt.Sprintf("%ds", int((d+2*time.Minute).Seconds())), "-max_recv_loops", "10000")
	uas.Dir = dir
	uas.Stdout, uas.Stderr = io.Discard, io.Discard
	if err := uas.Start(); err != nil {
		return result{}, fmt.Errorf("start carrier sipp: %w", err)
	}
	defer func() { _ = uas.Process.Kill(); _ = uas.Wait() }()
	time.Sleep(300 * time.Millisecond)

	stat := filepath.Join(dir, fmt.Sprintf("uac_%d.csv", rate))
	// -auth_uri: sipp's digest uri is sip:host:port unless told; the switch
	// takes only answers whose uri is the Request-URI.
	uac := exec.CommandContext(ctx, "sipp", "127.0.0.1:"+strconv.Itoa(sipPort), "-sf", "uac.xml", "-s", "12125550100",
		"-auth_uri", "12125550100@127.0.0.1:"+strconv.Itoa(sipPort),
		"-i", src, "-p", strconv.Itoa(benchproc.FreePort("udp")), "-nostdin", "-cp", strconv.Itoa(benchproc.FreePort("udp")),
		"-r", strconv.Itoa(rate), "-m", strconv.Itoa(calls), "-l", strconv.Itoa(rate*int(5+hold.Seconds())),
		"-trace_stat", "-stf", stat, "-fd", "1", "-timeout", fmt.Sprintf("%ds", int((d+time.Minute).Seconds())), "-max_recv_loops", "10000", "-max_sched_loops", "10000")
	uac.Dir = dir
	uacLog, _ := os.Create(filepath.Join(dir, fmt.Sprintf("uac_%d.log", rate)))
	defer uacLog.Close()
	uac.Stdout, uac.Stderr = uacLog, uacLog
	r := result{rate: rate, rssStart: benchproc.RSS(pid)}
	cpu0 := benchproc.CPU(pid)
	done := make(chan error, 1)
	if err := uac.Start(); err != nil {
		return r, fmt.Errorf("start app sipp: %w", err)
	}
	go func() { done <- uac.Wait() }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	ticks := 0
wait:
	for {
		select {
		case <-done:
			break wait
		case <-tick.C:
			now := benchproc.RSS(pid)
			r.rssMax = max(r.rssMax, now)
			if ticks++; ticks%10 == 0 {
				r.timeline = append(r.timeline, now)
			}
		}
	}
	r.rssEnd = benchproc.RSS(pid)
	r.cpu = benchproc.CPU(pid) - cpu0
	r.rssMax = max(r.rssMax, r.rssEnd)
	if err := readStats(stat, &r); err != nil {
		out, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("uac_%d.log", rate)))
		if len(out) > 2000 {
			out = out[len(out)-2000:]
		}
		return r, fmt.Errorf("%w\n%s", err, out)
	}
	return r, nil
}

// readStats reads the last line of sipp's -trace_stat CSV.
func readStats(path string, r *result) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sipp statistics: %w", err)
	}
	defer f.Close()
	cr := csv.NewReader(bufio.NewReader(f))
	cr.Comma = ';'
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil || len(rows) < 2 {
		return fmt.Errorf("sipp statistics %s: %v (%d rows)", path, err, len(rows))
	}
	head, last := rows[0], rows[len(rows)-1]
	col := func(name string) int {
		for i, h := range head {
			if h == name && i < len(last) {
				n, _ := strconv.Atoi(last[i])
				return n
			}
		}
		return 0
	}
	r.success = col("SuccessfulCall(C)")
	r.failed = col("FailedCall(C)")
	r.retrans = col("Retransmissions(C)")
	// Each call is 8 messages from sipp's point of view (INVITE, 407, ACK,
	// INVITE, 100, 200, ACK, BYE, 200, ...); count calls * 9 as messages.
	r.msgs = (r.success + r.failed) * 9
	return nil
}

const uacScenario = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="dialtone load: authenticated call">
  <send retrans="500" start_txn="invite">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:load@[remote_ip]>;tag=[pid]T[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:load@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=load 1 1 IN IP4 [local_ip]
      s=-
      c=IN IP4 [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16

    ]]>
  </send>
  <recv response="100" optional="true" response_txn="invite"/>
  <recv response="407" auth="true" response_txn="invite"/>
  <send ack_txn="invite">
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: <sip:load@[remote_ip]>;tag=[pid]T[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <send retrans="500" start_txn="invite2">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:load@[remote_ip]>;tag=[pid]T[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 2 INVITE
      Contact: <sip:load@[local_ip]:[local_port]>
      [authentication username=load password=loadpass]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=load 1 1 IN IP4 [local_ip]
      s=-
      c=IN IP4 [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16

    ]]>
  </send>
  <recv response="100" optional="true" response_txn="invite2"/>
  <recv response="180" optional="true" response_txn="invite2"/>
  <recv response="183" optional="true" response_txn="invite2"/>
  <recv response="200" rrs="true" response_txn="invite2"/>
  <send ack_txn="invite2">
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:load@[remote_ip]>;tag=[pid]T[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      [routes]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="HOLD_MS"/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:load@[remote_ip]>;tag=[pid]T[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      [routes]
      Call-ID: [call_id]
      CSeq: 3 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
`

const uasScenario = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="dialtone load: carrier">
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]C[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:carrier@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=carrier 1 1 IN IP4 [local_ip]
      s=-
      c=IN IP4 [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000

    ]]>
  </send>
  <recv request="ACK" optional="true" crlf="true"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
</scenario>
`
