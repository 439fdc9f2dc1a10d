// Package e2e runs the real dialtone binary between real SIP peers: sipp
// plays the app user's phone and the carriers, a UDP receiver in the test
// counts the RTP the switch forwards to the carrier, and the CDRs are read
// back from the real store (SQLite file or PostgreSQL schema).
package e2e

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/postgres"
	"github.com/dialtone/dialtone/sqlite"
	"github.com/dialtone/dialtone/storetest"
)

var binary string // built once by TestMain

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if _, err := exec.LookPath("sipp"); err != nil {
		if os.Getenv("DIALTONE_REQUIRE_ALL") == "1" {
			fmt.Fprintln(os.Stderr, "e2e: sipp is required (DIALTONE_REQUIRE_ALL=1): run make deps")
			return 1
		}
		fmt.Fprintln(os.Stderr, "e2e: SKIPPING every end-to-end test: sipp is not installed (make deps installs it)")
		return 0
	}
	dir, err := os.MkdirTemp("", "dialtone-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "dialtone")
	args := []string{"build", "-o", binary}
	if os.Getenv("DIALTONE_E2E_RACE") == "1" {
		args = append(args, "-race") // the switch under the race detector; its reports land in the switch log
	}
	build := exec.Command("go", append(args, "../cmd/dialtone")...)
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build dialtone:", err)
		return 1
	}
	return m.Run()
}

// ports hands out port blocks that no two switches or peers share.
// Ports come from below the kernel's ephemeral range (32768 and up), so a
// socket the kernel picks for someone else never takes one of ours. The
// suite takes more ports than that range below holds (each switch
// reserves a block for RTP), so blocks wrap around to its start: ports of
// switches stopped long before are free again, and freePort checks.
var ports struct {
	sync.Mutex
	next int
}

const portsLow, portsHigh = 10000, 32000

func init() { ports.next = portsLow + os.Getpid()%8*2500 }

// takePorts reserves n consecutive ports and returns the first.
func takePorts(n int) int {
	ports.Lock()
	defer ports.Unlock()
	if ports.next+n >= portsHigh {
		ports.next = portsLow
	}
	p := ports.next
	ports.next += n
	return p
}

func freePort(t testing.TB) int {
	t.Helper()
	var err error
	for range 50 {
		p := takePorts(10) // sipp also binds media port+2
		if p == 10080 {
			continue // Chromium refuses to connect to it (ERR_UNSAFE_PORT); the only such port from 10000 up
		}
		var u net.PacketConn
		if u, err = net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p)); err != nil {
			continue
		}
		var l net.Listener
		l, err = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		u.Close()
		if err != nil {
			continue
		}
		l.Close()
		return p
	}
	t.Fatalf("no free port: %v", err)
	return 0
}

// Options shape a switch's configuration.
type Options struct {
	Store        string // "sqlite" or "postgres"
	StoreURL     string // a store shared with another switch (its Switch.storeURL); default: a fresh one of Store
	Node         string // billing.node; default "e2e"
	IP           string // the loopback address SIP and media listen on and advertise; default 127.0.0.1
	MediaTimeout time.Duration
	Routes       string         // YAML of routes; default: everything to carrier1
	Trunks       []int          // carrier ports, named carrier1, carrier2, ...
	TrunkTCP     bool           // reach the carriers over TCP
	MediaPorts   int            // size of the RTP port range; 200 when zero
	BuyPlan      string         // buy deck of every trunk
	TrunkExtra   map[int]string // more keys of trunks[i], e.g. "max_channels: 2"
	Billing      string         // more keys of billing, e.g. "interval: 2s"; "unbilled: allow" unless it names unbilled (see startSwitch)
	SIPExtra     string         // more keys of sip, e.g. dns_server: "127.0.0.1:5353"
	Extra        string         // more top-level YAML (api, ...); without a limits section, every limit is lifted
	MediaExtra   string         // more keys of media, e.g. "webrtc: {listen: ...}"
}

// Switch is a running dialtone process.
type Switch struct {
	t        *testing.T
	dir      string
	cfgPath  string
	storeURL string
	IP       string // where SIP and media listen (Options.IP)
	node     string // billing.node
	SIPPort  int
	HTTPPort int
	cmd      *exec.Cmd
	log      *os.File
	store    dialtone.Store
}

// unlimited is a limits section that lifts every limit.
const unlimited = `
limits: {concurrent_calls: unlimited, calls_per_minute: unlimited, spend_hour: unlimited, spend_day: unlimited,
  max_rate: unlimited, countries: ["*"], number_types: [mobile, fixed, toll_free, premium, other]}
`

func startSwitch(t *testing.T, o Options) *Switch {
	t.Helper()
	dir := t.TempDir()
	sw := &Switch{t: t, dir: dir, IP: cmp.Or(o.IP, "127.0.0.1"), SIPPort: freePort(t), HTTPPort: freePort(t)}
	switch {
	case o.StoreURL != "":
		sw.storeURL = o.StoreURL
	case o.Store == "postgres":
		sw.storeURL = storetest.PostgresURL(t)
	default:
		sw.storeURL = "sqlite://" + filepath.Join(dir, "dialtone.db")
	}
	if o.MediaTimeout == 0 {
		o.MediaTimeout = 30 * time.Second
	}
	var trunks strings.Builder
	transport := "udp"
	if o.TrunkTCP {
		transport = "tcp"
	}
	for i, p := range o.Trunks {
		extra := ""
		if o.BuyPlan != "" {
			extra += ", buy_plan: " + o.BuyPlan
		}
		if e := o.TrunkExtra[i]; e != "" {
			extra += ", " + e
		}
		if !strings.Contains(extra, "transport:") { // TrunkExtra may name its own
			extra = ", transport: " + transport + extra
		}
		if !strings.Contains(extra, "addresses:") && !strings.Contains(extra, "srv:") { // or several, or DNS
			extra = fmt.Sprintf(", address: \"127.0.0.1:%d\"", p) + extra
		}
		fmt.Fprintf(&trunks, "  - {name: carrier%d, codecs: [PCMA, PCMU]%s}\n", i+1, extra)
	}
	routes := o.Routes
	if routes == "" {
		routes = "  - {prefix: \"\", trunks: [carrier1]}\n"
	}
	if o.MediaPorts == 0 {
		o.MediaPorts = 200
	}
	mediaMin := takePorts(o.MediaPorts) // the switch skips a port of its block that is taken
	listen := fmt.Sprintf(`listen: [{transport: udp, addr: "%[1]s:%[2]d"}, {transport: tcp, addr: "%[1]s:%[2]d"}]`, sw.IP, sw.SIPPort)
	if strings.Contains(o.SIPExtra, "listen:") { // the test names its own listeners
		listen = ""
	}
	// Most tests are about calls, not money: their accounts have no rate
	// plan and call unbilled, which the configuration must say.
	billing := o.Billing
	if !strings.Contains(billing, "unbilled:") {
		billing = strings.TrimSuffix("unbilled: allow, "+billing, ", ")
	}
	if o.Node == "" {
		o.Node = "e2e"
	}
	sw.node = o.Node
	mediaExtra := ""
	if o.MediaExtra != "" {
		mediaExtra = ", " + o.MediaExtra
	}
	cfg := fmt.Sprintf(`log: {level: debug, format: text}
store: {url: %q}
sip:
  realm: dialtone
  advertise: %s
  %s
  ring_timeout: 20s
  %s
media: {bind: %s, advertise: %s, port_min: %d, port_max: %d, timeout: %s%s}
trunks:
%sroutes:
%shttp: {listen: "127.0.0.1:%d"}
shutdown: {drain_timeout: 5s}
billing: {node: %s, %s}
%s`, sw.storeURL, sw.IP, listen, o.SIPExtra, sw.IP, sw.IP, mediaMin, mediaMin+o.MediaPorts-1, o.MediaTimeout, mediaExtra, trunks.String(), routes, sw.HTTPPort, o.Node, billing, o.Extra)
	if !strings.Contains(o.Extra, "limits:") {
		// The tests place many calls from one account to every kind of
		// number: the accounts' limits are lifted unless a test sets them.
		cfg += unlimited
	}
	sw.cfgPath = filepath.Join(dir, "dialtone.yaml")
	if err := os.WriteFile(sw.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	sw.CLI("migrate")
	sw.Start()
	t.Cleanup(func() {
		sw.Stop()
		if sw.store != nil {
			sw.store.Close()
		}
		if b, err := os.ReadFile(filepath.Join(dir, "switch.log")); err == nil {
			if i := bytes.Index(b, []byte("WARNING: DATA RACE")); i >= 0 {
				t.Errorf("the switch reported a data race:\n%s", b[i:min(len(b), i+3000)])
			}
			if i := bytes.Index(b, []byte("panic:")); i >= 0 {
				t.Errorf("the switch panicked:\n%s", b[i:min(len(b), i+3000)])
			}
		}
		if t.Failed() {
			sw.dumpLog()
		}
	})
	return sw
}

// CLI runs a dialtone subcommand on the switch's configuration.
func (sw *Switch) CLI(args ...string) string {
	sw.t.Helper()
	return sw.CLIEnv(nil, args...)
}

func (sw *Switch) CLIEnv(env []string, args ...string) string {
	sw.t.Helper()
	cmd := exec.Command(binary, append([]string{"-c", sw.cfgPath}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		sw.t.Fatalf("dialtone %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Account creates an account with a password.
func (sw *Switch) Account(name, password string) {
	sw.t.Helper()
	sw.CLIEnv([]string{"DIALTONE_PASSWORD=" + password}, "account", "create", name, "--country", "US")
}

// Start runs `dialtone serve` and waits until /readyz answers.
func (sw *Switch) Start() {
	sw.t.Helper()
	f, err := os.OpenFile(filepath.Join(sw.dir, "switch.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		sw.t.Fatal(err)
	}
	sw.log = f
	sw.cmd = exec.Command(binary, "-c", sw.cfgPath, "serve")
	sw.cmd.Stdout, sw.cmd.Stderr = f, f
	if err := sw.cmd.Start(); err != nil {
		sw.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if code, _ := sw.HTTP("/readyz"); code == 200 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	sw.dumpLog()
	sw.t.Fatal("switch did not become ready")
}

// Stop sends SIGINT (hang up everything, write CDRs, exit) and waits.
func (sw *Switch) Stop() { sw.signal(syscall.SIGINT) }

// Kill sends SIGKILL: a crash.
func (sw *Switch) Kill() { sw.signal(syscall.SIGKILL) }

func (sw *Switch) signal(sig syscall.Signal) {
	if sw.cmd == nil {
		return
	}
	_ = sw.cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = sw.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = sw.cmd.Process.Kill()
		<-done
		sw.t.Errorf("switch did not exit within 20s of %v", sig)
	}
	sw.cmd = nil
	sw.log.Close()
}

// HTTP gets a path of the admin listener.
func (sw *Switch) HTTP(path string) (int, string) {
	res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", sw.HTTPPort, path))
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// Metric reads one unlabelled sample from /metrics.
func (sw *Switch) Metric(name string) float64 {
	_, body := sw.HTTP("/metrics")
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, name+" ") {
			v, _ := strconv.ParseFloat(strings.TrimPrefix(line, name+" "), 64)
			return v
		}
	}
	return -1
}

// waitActive waits up to timeout until the switch has n calls up
// (dialtone_calls_active); the caller checks the count it needs.
func (sw *Switch) waitActive(n float64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for sw.Metric("dialtone_calls_active") != n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
}

// Store opens the switch's store (read side) for assertions.
func (sw *Switch) Store() dialtone.Store {
	sw.t.Helper()
	if sw.store != nil {
		return sw.store
	}
	ctx := context.Background()
	var err error
	if path, ok := strings.CutPrefix(sw.storeURL, "sqlite://"); ok {
		sw.store, err = sqlite.Open(ctx, path)
	} else {
		sw.store, err = postgres.Open(ctx, sw.storeURL)
	}
	if err != nil {
		sw.t.Fatalf("open store: %v", err)
	}
	return sw.store
}

// CDRs returns every CDR, waiting until there are at least n.
func (sw *Switch) CDRs(n int) []*dialtone.CDR {
	sw.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		cdrs, err := sw.Store().CDRs(context.Background(), dialtone.CDRFilter{From: time.Unix(0, 0), To: time.Now().Add(time.Hour)})
		if err != nil {
			sw.t.Fatalf("CDRs: %v", err)
		}
		if len(cdrs) >= n || time.Now().After(deadline) {
			return cdrs
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (sw *Switch) dumpLog() {
	b, err := os.ReadFile(filepath.Join(sw.dir, "switch.log"))
	if err != nil {
		return
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) > 80 {
		lines = lines[len(lines)-80:]
	}
	sw.t.Logf("switch log (last lines):\n%s", strings.Join(lines, "\n"))
}

// Receiver stands in for a carrier's media endpoint: it counts the RTP the
// switch sends, per source port.
type Receiver struct {
	Port    int
	conn    *net.UDPConn
	mu      sync.Mutex
	packets map[int]int // by source port
	payload map[byte]int
	wg      sync.WaitGroup
}

// listenMedia binds a peer's media socket on a free port of loopback.
func listenMedia(t *testing.T) *net.UDPConn {
	t.Helper()
	for range 20 {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: freePort(t)})
		if err == nil {
			return c
		}
	}
	t.Fatal("no port for a media socket")
	return nil
}

func newReceiver(t *testing.T) *Receiver {
	t.Helper()
	conn := listenMedia(t)
	r := &Receiver{Port: conn.LocalAddr().(*net.UDPAddr).Port, conn: conn, packets: map[int]int{}, payload: map[byte]int{}}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		buf := make([]byte, 2048)
		for {
			n, src, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if n < 12 || buf[0]>>6 != 2 {
				continue
			}
			r.mu.Lock()
			r.packets[src.Port]++
			r.payload[buf[1]&0x7f]++
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); r.wg.Wait() })
	return r
}

// Counts returns the number of sources and packets seen.
func (r *Receiver) Counts() (sources, packets int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.packets {
		packets += n
	}
	return len(r.packets), packets
}

// Sipp is a sipp process.
type Sipp struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  bytes.Buffer
	dir  string
	done chan error
	err  error
	// reaped is set, by the test's goroutine, once it has read done: the
	// process's state may not be read before (cmd.Wait writes it).
	reaped bool
}

// startSipp runs sipp with a scenario text in its own directory (with the
// pcap link the built-in audio needs).
func startSipp(t *testing.T, scenario string, args ...string) *Sipp {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "scenario.xml"), []byte(scenario), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.Symlink("/usr/share/sip-tester", filepath.Join(dir, "pcap"))
	args = append(args, sippAuthURI(args)...)
	all := append([]string{"-sf", "scenario.xml", "-i", "127.0.0.1", "-nostdin", "-cp", strconv.Itoa(freePort(t)),
		"-trace_err", "-trace_stat", "-stf", "stat.csv", "-timeout", "90s", "-timeout_error"}, args...)
	s := &Sipp{t: t, dir: dir, done: make(chan error, 1)}
	s.cmd = exec.Command("sipp", all...)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("sipp: %v", err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		if !s.reaped {
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// sippAuthURI makes sipp answer a digest challenge with the Request-URI
// of its requests, sip:[service]@[remote_ip]:[remote_port], as RFC 3261
// section 22.4 requires and the switch checks: by default sipp puts
// sip:[remote_ip]:[remote_port] in the digest uri. It returns no arguments
// for a sipp that calls no one or sets -auth_uri itself.
func sippAuthURI(args []string) []string {
	var service, remote string
	for i, a := range args {
		switch {
		case a == "-auth_uri":
			return nil
		case a == "-s" && i+1 < len(args):
			service = args[i+1]
		case strings.HasPrefix(a, "127.0.0.1:"):
			remote = a
		}
	}
	if service == "" || remote == "" {
		return nil
	}
	return []string{"-auth_uri", service + "@" + remote}
}

// Wait waits for sipp to exit and returns its final statistics.
func (s *Sipp) Wait(timeout time.Duration) Stats {
	s.t.Helper()
	select {
	case s.err = <-s.done:
	case <-time.After(timeout):
		_ = s.cmd.Process.Kill()
		s.err = <-s.done
		s.t.Errorf("sipp did not finish within %v", timeout)
	}
	s.reaped = true
	return s.stats()
}

// Stats are sipp's cumulative counters.
type Stats struct {
	Created, Successful, Failed int
	ExitOK                      bool
}

func (s *Sipp) stats() Stats {
	st := Stats{ExitOK: s.err == nil}
	f, err := os.Open(filepath.Join(s.dir, "stat.csv"))
	if err != nil {
		return st
	}
	defer f.Close()
	var head, last []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ";")
		if head == nil {
			head = fields
			continue
		}
		last = fields
	}
	col := func(name string) int {
		for i, h := range head {
			if h == name && i < len(last) {
				n, _ := strconv.Atoi(last[i])
				return n
			}
		}
		return 0
	}
	st.Created, st.Successful, st.Failed = col("TotalCallCreated"), col("SuccessfulCall(C)"), col("FailedCall(C)")
	return st
}

// Errors returns what sipp wrote to its error log and screen.
func (s *Sipp) Errors() string {
	matches, _ := filepath.Glob(filepath.Join(s.dir, "*_errors.log"))
	var b strings.Builder
	for _, m := range matches {
		data, _ := os.ReadFile(m)
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		b.Write(data)
	}
	out := s.out.String()
	if len(out) > 2000 {
		out = out[len(out)-2000:]
	}
	return b.String() + out
}

// Stop ends sipp now (for peers that must not have been called) and returns its statistics.
func (s *Sipp) Stop() Stats {
	s.t.Helper()
	if !s.reaped {
		_ = s.cmd.Process.Signal(syscall.SIGUSR1) // sipp writes its statistics and exits
		select {
		case s.err = <-s.done:
		case <-time.After(3 * time.Second):
			_ = s.cmd.Process.Kill()
			s.err = <-s.done
		}
		s.reaped = true
	}
	return s.stats()
}

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	return string(out), err
}
