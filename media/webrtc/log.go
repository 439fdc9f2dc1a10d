package webrtc

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/pion/logging"
)

// pionLogs hands pion loggers that write to the engine's slog.Logger, with
// the pion scope ("ice", "dtls", "pc", ...) as an attribute.
//
// Levels go down one step. Pion's Trace is dropped; its Debug and Info
// ("setting new connection state") become Debug; its Warn becomes Debug
// too, because pion warns on every ordinary call end ("failed to accept
// RTP stream is already closed", "failed to read from candidate: closed
// pipe"); its Error becomes Warn. What matters to a call reaches the
// switch as Peer.Err, not as a log line.
//
// Each logger pion makes (one per scope and connection, one for the mux)
// writes at most lineBurst lines a second: some of pion's
// lines are per datagram ("failed to handle decode ICE" for each junk
// packet on the mux port), and a flood of junk must not become a flood of
// log lines.
type pionLogs struct{ log *slog.Logger }

const lineBurst = 20

func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return &pionLog{log: f.log.With("pion", scope)}
}

type pionLog struct {
	log    *slog.Logger
	second atomic.Int64 // unix second of the current window
	count  atomic.Int32 // lines written in it
}

func (l *pionLog) Trace(string)          {}
func (l *pionLog) Tracef(string, ...any) {}
func (l *pionLog) Debug(msg string)      { l.at(slog.LevelDebug, msg) }
func (l *pionLog) Info(msg string)       { l.at(slog.LevelDebug, msg) }
func (l *pionLog) Warn(msg string)       { l.at(slog.LevelDebug, msg) }
func (l *pionLog) Error(msg string)      { l.at(slog.LevelWarn, msg) }

func (l *pionLog) Debugf(format string, args ...any) { l.atf(slog.LevelDebug, format, args) }
func (l *pionLog) Infof(format string, args ...any)  { l.atf(slog.LevelDebug, format, args) }
func (l *pionLog) Warnf(format string, args ...any)  { l.atf(slog.LevelDebug, format, args) }
func (l *pionLog) Errorf(format string, args ...any) { l.atf(slog.LevelWarn, format, args) }

func (l *pionLog) atf(level slog.Level, format string, args []any) {
	if l.allow(level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (l *pionLog) at(level slog.Level, msg string) {
	if l.allow(level) {
		l.log.Log(context.Background(), level, msg)
	}
}

// allow reports whether a line at level is to be written: the handler
// wants the level, and this second's budget is not spent.
func (l *pionLog) allow(level slog.Level) bool {
	if !l.log.Enabled(context.Background(), level) {
		return false
	}
	now := time.Now().Unix()
	if s := l.second.Load(); s != now && l.second.CompareAndSwap(s, now) {
		l.count.Store(0)
	}
	return l.count.Add(1) <= lineBurst
}
