package edge

import (
	"testing"
	"time"
)

func TestChallengeWatch(t *testing.T) {
	w := newChallengeWatch(5*time.Second, 3, nil)
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	w.sent(challengeSent{callID: "a", method: "INVITE"}, t0)
	w.sent(challengeSent{callID: "b", method: "INVITE"}, t0.Add(time.Second))
	w.sent(challengeSent{callID: "a", method: "INVITE"}, t0.Add(2*time.Second)) // a stale nonce: the first one counts
	w.answered("b")
	if got := w.expire(t0.Add(4 * time.Second)); len(got) != 0 {
		t.Errorf("expire(before the window) = %v, want nothing", got)
	}
	got := w.expire(t0.Add(6 * time.Second))
	if len(got) != 1 || got[0].callID != "a" {
		t.Fatalf("expire(after the window) = %v, want a alone (b was answered)", got)
	}
	if got := w.expire(t0.Add(time.Hour)); len(got) != 0 {
		t.Errorf("expire again = %v, want each challenge reported once", got)
	}
	if len(w.pending) != 0 || len(w.queue) != 0 {
		t.Errorf("left %d pending, %d queued; want none", len(w.pending), len(w.queue))
	}

	// Bounded: a challenge sent while limit wait is not watched.
	for _, id := range []string{"c", "d", "e", "f"} {
		w.sent(challengeSent{callID: id}, t0)
	}
	if len(w.pending) != 3 {
		t.Errorf("%d watched, want the limit of 3", len(w.pending))
	}
	// So are a Call-ID too long to keep and none at all.
	w2 := newChallengeWatch(time.Second, 10, nil)
	w2.sent(challengeSent{callID: string(make([]byte, maxWatchedCallID+1))}, t0)
	w2.sent(challengeSent{}, t0)
	if len(w2.pending) != 0 {
		t.Errorf("watched %d challenges without a usable Call-ID, want 0", len(w2.pending))
	}
}

func TestOfferedAlgorithms(t *testing.T) {
	got := offeredAlgorithms([]string{`Digest realm="dialtone", nonce="x", algorithm=MD5, qop="auth"`, `Digest realm="d", algorithm="SHA-256", nonce="y"`})
	if got != "MD5,SHA-256" {
		t.Errorf("offeredAlgorithms = %q, want MD5,SHA-256", got)
	}
}
