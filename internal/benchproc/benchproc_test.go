package benchproc

import (
	"os"
	"testing"
)

func TestStatTicks(t *testing.T) {
	// A command name with spaces and a parenthesis, as /proc shows it.
	stat := "4242 (rtp engine) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 1500 250 0 0 20 0 5 0 100 1000000 500 18446744073709551615"
	if got, err := StatTicks(stat); err != nil || got != 1750 {
		t.Errorf("StatTicks = %d, %v; want 1750", got, err)
	}
	for _, bad := range []string{"", "4242 rtpengine S 1", "4242 (x) S 1 2 3", "4242 (x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 u s"} {
		if _, err := StatTicks(bad); err == nil {
			t.Errorf("StatTicks(%q) = nil error, want one", bad)
		}
	}
	// user nice system idle iowait irq softirq steal guest guest_nice
	if got, err := BusyTicks("cpu  100 5 50 9000 40 1 2 3 7 1\ncpu0 1 2 3 4 5 6 7 8 9 10\n"); err != nil || got != 161 {
		t.Errorf("BusyTicks = %d, %v; want 161", got, err)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7", "cpu 1 2 3 x 5 6 7 8"} {
		if _, err := BusyTicks(bad); err == nil {
			t.Errorf("BusyTicks(%q) = nil error, want one", bad)
		}
	}
	if MachineCPU() <= 0 {
		t.Error("MachineCPU is not above 0")
	}
	if CPU(1<<30) != 0 || RSS(1<<30) != 0 {
		t.Error("CPU or RSS of a process that does not exist is not 0")
	}
	if RSS(os.Getpid()) <= 0 {
		t.Error("RSS of this process is not above 0")
	}
}
