package trunks

import (
	"context"
	"sync"
)

// Loops runs one goroutine per carrier that wants one (a health check, a
// registration) and replaces them all when the carriers change. It owns
// the goroutines: Restart and Stop return once the previous ones ended.
type Loops struct {
	mu     sync.Mutex // serializes Restart and Stop
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Restart stops the previous loops and runs run for each carrier of cs
// that want selects, until the next Restart or Stop.
func (l *Loops) Restart(cs *Carriers, want func(*Carrier) bool, run func(context.Context, *Carrier)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stop()
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	for _, c := range cs.All() {
		if !want(c) {
			continue
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			run(ctx, c)
		}()
	}
}

// Stop ends the loops and waits for them.
func (l *Loops) Stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stop()
}

func (l *Loops) stop() {
	if l.cancel != nil {
		l.cancel()
		l.cancel = nil
	}
	l.wg.Wait()
}
