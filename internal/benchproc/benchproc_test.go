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
	if CPU(1<<30) != 0 || RSS(1<<30) != 0 {
		t.Error("CPU or RSS of a process that does not exist is not 0")
	}
	if RSS(os.Getpid()) <= 0 {
		t.Error("RSS of this process is not above 0")
	}
}
