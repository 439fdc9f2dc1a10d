// Command relaybench measures media relays from outside: it starts a real
// `dialtone serve` and a real rtpengine (Sipwise's media proxy, user space
// only), sets calls up on each as it would be in production (Dialtone
// through full SIP calls with digest auth from an app phone to a carrier,
// both sipgo user agents of this process; rtpengine through its ng control
// protocol: offer, answer, delete), then streams 20 ms RTP both ways on
// every call from this process and reports, per relay, mode and number of
// calls: packet loss, the one-way delay (p50, p99, p999) from this
// process's send to its receive through the relay, and the relay
// process's CPU per call (/proc/PID/stat over the run).
//
//	go run ./cmd/relaybench -bin bin/dialtone -calls 50,100,200 -duration 20s
//
// Modes: passthrough (PCMU both legs; the payload carries the send time)
// and transcode (the app sends Opus, the carrier PCMU; the relay decodes
// and encodes every packet, and the receiver matches packets to their
// send time by RTP timestamp, counted from the onset of the sound).
//
// It is a benchmark, not a test: it prints figures and asserts nothing.
// The load generator shares the machine's cores with the relay, so its
// own CPU is printed too.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	bin := flag.String("bin", "bin/dialtone", "dialtone binary")
	rtpengineBin := flag.String("rtpengine", "rtpengine", "rtpengine binary (Debian: rtpengine-daemon); empty skips it")
	callsFlag := flag.String("calls", "50,100,200", "concurrent calls, one run each")
	duration := flag.Duration("duration", 20*time.Second, "how long each run streams")
	relays := flag.String("relays", "dialtone,rtpengine", "relays to measure")
	verbose := flag.Bool("v", false, "also print the delay of each direction")
	complexity := flag.Int("complexity", 0, "Dialtone's media.opus.complexity (0-10; 0 is its default; rtpengine 10.5 has no such setting and encodes with libopus's default, 10)")
	keep := flag.Bool("keep", false, "keep the working directory (configuration, both relays' logs) and print its path")
	modes := flag.String("modes", "passthrough,transcode", "passthrough (PCMU<->PCMU), transcode (Opus<->PCMU)")
	flag.Parse()
	// sipgo logs through the default logger: its notes (a retransmitted
	// 100 Trying) are not this benchmark's business.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	var counts []int
	for _, f := range strings.Split(*callsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		// rtpengine's port range holds 675 calls (two RTP and RTCP pairs each).
		if err != nil || n < 1 || n > 600 {
			fmt.Fprintf(os.Stderr, "relaybench: -calls %q: want numbers 1-600\n", f)
			os.Exit(2)
		}
		counts = append(counts, n)
	}
	if *complexity < 0 || *complexity > 10 {
		fmt.Fprintln(os.Stderr, "relaybench: -complexity must be 0-10")
		os.Exit(2)
	}
	if *duration < time.Second || *duration > 80*time.Second {
		fmt.Fprintln(os.Stderr, "relaybench: -duration must be 1s-80s") // the send log holds 82 s of frames
		os.Exit(2)
	}
	if err := run(*bin, *rtpengineBin, split(*relays), split(*modes), counts, *duration, *complexity, *keep, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "relaybench:", err)
		os.Exit(1)
	}
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// relay is a running relay the generator can set calls up on.
type relay interface {
	setup(ctx context.Context, calls int, transcode bool) ([]*call, func(), error)
	pid() int
	close()
}

// The relays' media port ranges: apart from each other and below the
// kernel's ephemeral ports (32768 and up), where the generator's own
// sockets are.
const (
	dialtonePortMin, dialtonePortMax   = 20000, 29999
	rtpenginePortMin, rtpenginePortMax = 30000, 32699
)

func run(bin, rtpengineBin string, relays, modes []string, counts []int, duration time.Duration, complexity int, keep, verbose bool) error {
	for _, m := range modes {
		if m != "passthrough" && m != "transcode" {
			return fmt.Errorf("mode %q: want passthrough or transcode", m)
		}
	}
	dir, err := os.MkdirTemp("", "relaybench")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("relaybench: working directory", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("relaybench: %v of 20 ms RTP both ways per call, generator in this process, relay in its own; load average %s",
		duration, load)
	fmt.Println("delay: one way, generator -> relay -> generator on loopback; CPU: the relay process's (all threads), % of one core per call; gen: this process's, % of one core")
	fmt.Printf("%-9s %-11s %5s %7s %8s %8s %8s %10s %6s\n", "relay", "mode", "calls", "loss %", "p50 µs", "p99 µs", "p999 µs", "CPU %/call", "gen %")
	var notes []string
	for _, name := range relays {
		var r relay
		runModes := modes
		switch name {
		case "dialtone":
			d, err := startDialtone(bin, dir, dialtonePortMin, dialtonePortMax, complexity)
			if err != nil {
				return fmt.Errorf("dialtone: %w", err)
			}
			r = d
		case "rtpengine":
			if rtpengineBin == "" {
				continue
			}
			path, err := exec.LookPath(rtpengineBin)
			if err != nil {
				notes = append(notes, "rtpengine: not installed (apt-get install rtpengine-daemon, or make deps-bench); skipped")
				continue
			}
			e, err := startRTPEngine(path, dir, rtpenginePortMin, rtpenginePortMax)
			if err != nil {
				return err
			}
			r = e
			if why := rtpengineTranscodes(path); why != "" && slices.Contains(modes, "transcode") {
				notes = append(notes, "rtpengine transcode: skipped, "+why)
				runModes = slices.DeleteFunc(slices.Clone(modes), func(m string) bool { return m == "transcode" })
			}
		default:
			return fmt.Errorf("relay %q: want dialtone or rtpengine", name)
		}
		for _, mode := range runModes {
			for _, n := range counts {
				res, err := runOnce(r, n, mode == "transcode", duration)
				if err != nil && res != nil { // measured, but some streams never came through
					res.relay, res.mode = name, mode
					printRow(res)
					notes = append(notes, fmt.Sprintf("%s %s %d calls: %v", name, mode, n, err))
					continue
				}
				if err != nil {
					fmt.Printf("%-9s %-11s %5d  failed: %v\n", name, mode, n, err)
					notes = append(notes, fmt.Sprintf("%s %s %d calls: %v", name, mode, n, err))
					continue
				}
				res.relay, res.mode = name, mode
				printRow(res)
				if verbose {
					printDirections(res)
				}
				if res.odd > 0 {
					notes = append(notes, fmt.Sprintf("%s %s %d calls: %d packets received off the run's frames (not counted)", name, mode, n, res.odd))
				}
				time.Sleep(time.Second)
			}
		}
		r.close()
	}
	fmt.Printf("transcode: the app sends Opus (opus/48000/2, 20 ms, Dialtone's encoder settings), the carrier PCMU. Dialtone encodes Opus at media.opus.complexity %d from 8 kHz audio; rtpengine through ffmpeg at libopus's defaults (it has no complexity setting)\n", complexity)
	for _, n := range notes {
		fmt.Println("note:", n)
	}
	return nil
}

// rtpengineTranscodes says why rtpengine cannot transcode Opus<->PCMU, or
// "" when it can: its build must list both codecs as fully supported
// (rtpengine --codecs; transcoding goes through ffmpeg's libraries).
func rtpengineTranscodes(bin string) string {
	out, err := exec.Command(bin, "--codecs").Output()
	if err != nil {
		return fmt.Sprintf("rtpengine --codecs: %v", err)
	}
	for _, c := range []string{"opus", "PCMU"} {
		ok := false
		for _, line := range strings.Split(string(out), "\n") {
			name, support, _ := strings.Cut(strings.TrimSpace(line), ":")
			if name == c && strings.TrimSpace(support) == "fully supported" {
				ok = true
			}
		}
		if !ok {
			return "this rtpengine build cannot encode and decode " + c + " (rtpengine --codecs)"
		}
	}
	return ""
}

func runOnce(r relay, calls int, transcode bool, duration time.Duration) (*result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs, hangup, err := r.setup(ctx, calls, transcode)
	if err != nil {
		return nil, fmt.Errorf("set up: %w", err)
	}
	defer hangup()
	return measure(cs, transcode, duration, r.pid())
}

// printDirections prints the delay of each direction of a run.
func printDirections(r *result) {
	for dir, name := range [2]string{toCarrier: "app->carrier", toApp: "carrier->app"} {
		h := r.lat[dir]
		fmt.Printf("  %-13s %d packets, p50 %s µs, p99 %s µs, p999 %s µs\n", name, h.count(), micros(quantile(0.5, h)), micros(quantile(0.99, h)), micros(quantile(0.999, h)))
	}
}

func printRow(r *result) {
	fmt.Printf("%-9s %-11s %5d %7.3f %8s %8s %8s %10.3f %6.1f\n", r.relay, r.mode, r.calls,
		lossPercent(r.sent, r.received),
		micros(quantile(0.5, r.lat[:]...)), micros(quantile(0.99, r.lat[:]...)), micros(quantile(0.999, r.lat[:]...)),
		cpuPercentPerCall(r.cpu, r.wall, r.calls), 100*r.genCPU.Seconds()/r.wall.Seconds())
}

// micros prints a quantile of a histogram: its microseconds, or ">1s"
// for the last bucket, which holds everything slower.
func micros(us int) string {
	if us >= histogramMax {
		return ">1s"
	}
	return strconv.Itoa(us)
}
