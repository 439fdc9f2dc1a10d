package b2bua

import (
	"context"
	"sync"
	"time"
)

// Clock is where the call controller reads the time and sets its timers:
// the ring timeout, a carrier's INVITE timeout, the credit metering and
// cut-off, and the bounds on ACK, BYE and CDR writes. Its Now has the shape
// of the clock package billing takes (a func() time.Time), so one clock
// can drive both: pass clock.Now to billing.NewController.
//
// The media timeout and the WebRTC handshake timeout are timers of the
// media engine, behind Bridge: Bridge.Start's onEnd is how they reach
// a call.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface {
	// Stop prevents the call of f; it reports false when f has already
	// been called or started.
	Stop() bool
}

// SystemClock is the wall clock, in UTC.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now().UTC() }

func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// tasks counts the goroutines and pending timer callbacks of the Server,
// so that Close can wait for every one of them. Unlike a sync.WaitGroup
// it may be added to while someone waits.
type tasks struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to zero
}

func (t *tasks) add() {
	t.mu.Lock()
	t.n++
	t.mu.Unlock()
}

func (t *tasks) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n < 0 {
		panic("b2bua: tasks.done without add")
	}
	if t.n == 0 && t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
}

// count is the number of tasks running or pending.
func (t *tasks) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// wait returns when no task runs or is pending.
func (t *tasks) wait() {
	for {
		t.mu.Lock()
		if t.n == 0 {
			t.mu.Unlock()
			return
		}
		if t.idle == nil {
			t.idle = make(chan struct{})
		}
		idle := t.idle
		t.mu.Unlock()
		<-idle
	}
}

// goTask runs f in a goroutine that Close waits for.
func (s *Server) goTask(f func()) {
	s.tasks.add()
	go func() {
		defer s.tasks.done()
		f()
	}()
}

// after calls f once d has passed on the Server's clock. The timer is a
// task from now until f returns or stop prevents it, so Close waits for a
// callback in flight but not for a timer that was stopped.
func (s *Server) after(d time.Duration, f func()) (stop func()) {
	s.tasks.add()
	t := s.clock.AfterFunc(d, func() {
		defer s.tasks.done()
		f()
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			if t.Stop() {
				s.tasks.done()
			}
		})
	}
}

// withTimeout bounds an exchange with a peer on the Server's clock. The
// result does not end with parent: a call that is ending still sends its
// BYE and writes its CDR.
func (s *Server) withTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(parent))
	stop := s.after(d, func() { cancel(context.DeadlineExceeded) })
	return ctx, func() {
		stop()
		cancel(context.Canceled)
	}
}
