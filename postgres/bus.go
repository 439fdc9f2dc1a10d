package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Bus carries messages between the nodes that share the database, over
// LISTEN/NOTIFY: the companion's live events (it implements
// companion.Bus). Every node publishes with pg_notify and delivers what
// its one listening connection receives, its own messages included, so
// each node sees every message once and all nodes see them in the same
// order: the order in which the publishing transactions committed.
//
// A NOTIFY payload is limited to 8000 bytes. Small messages (all chat
// events but the largest) go in one notification. A larger one is cut
// into numbered chunks sent by one statement, so in one transaction: its
// chunks are committed together and reach the listeners together, and
// each receiver joins them before delivering. Messages are limited to
// MaxBusMessage; they must be valid UTF-8 without NUL (PostgreSQL text).
//
// The channel is named after the current schema (dialtone_live_<schema>),
// so deployments sharing a database in different schemas do not hear each
// other.
//
// When the listening connection is lost, the bus takes another from the
// pool and listens again, retrying with a backoff. Notifications sent in
// between are not received by this node: once listening again, it calls
// the subscribers' resync so that they can tell their clients to fetch
// what they missed. After busIdle without a notification the bus pings
// its connection, so one that died silently is noticed within about a
// minute.
//
// Concurrency: a Bus is safe for concurrent use. One goroutine, owned by
// the Bus and ended by Close, receives and calls the subscribers in turn.
type Bus struct {
	pool    *pgxpool.Pool
	channel string
	origin  string // this Bus's random id, naming its chunked messages
	seq     atomic.Uint64
	log     *slog.Logger

	mu   sync.Mutex
	subs []busSub
	conn *pgx.Conn // the listening connection, while there is one

	// retry is the first wait before listening again; it doubles up to
	// maxRetry.
	retry, maxRetry time.Duration
	idle            time.Duration // silence after which the connection is pinged

	cancel context.CancelFunc
	done   chan struct{}
}

type busSub struct {
	deliver func([]byte)
	resync  func()
}

// MaxBusMessage is the largest message the Bus carries.
const MaxBusMessage = 1 << 20

// ErrBusMessage is returned by Publish for a message the bus cannot carry.
var ErrBusMessage = errors.New("bus message refused")

const (
	// maxPayload is the largest chunk of message in one NOTIFY: PostgreSQL's
	// limit is 8000 bytes of payload, the chunk header takes the rest.
	maxPayload = 7900
	// maxPending bounds the chunked messages being joined at once.
	maxPending = 16
	// busIdle is how long the listening connection may be silent before
	// it is pinged; busPing bounds the ping.
	busIdle = 30 * time.Second
	busPing = 10 * time.Second
)

// NewBus starts listening on the database of pool; it returns once the
// first LISTEN is in place, so that nothing published after it is missed.
// Close stops it.
func NewBus(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (*Bus, error) {
	return newBus(ctx, pool, log, busIdle)
}

func newBus(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, idle time.Duration) (*Bus, error) {
	var schema *string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, fmt.Errorf("start bus: %w", err)
	}
	if schema == nil {
		return nil, errors.New("start bus: no current schema (check search_path)")
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	b := &Bus{pool: pool, channel: channelName(*schema), origin: hex.EncodeToString(id[:]), log: log,
		retry: 100 * time.Millisecond, maxRetry: 5 * time.Second, idle: idle, done: make(chan struct{})}
	conn, err := b.listen(ctx)
	if err != nil {
		return nil, fmt.Errorf("start bus: %w", err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	go b.run(lctx, conn)
	return b, nil
}

// channelName is the NOTIFY channel of a schema: an identifier of at most
// 63 bytes, else a hash of the schema.
func channelName(schema string) string {
	name := "dialtone_live_" + schema
	if len(name) > 63 {
		sum := sha256.Sum256([]byte(schema))
		name = "dialtone_live_" + hex.EncodeToString(sum[:12])
	}
	return name
}

// Subscribe registers deliver, called with each message in the order of
// publication, and resync, called after the bus was cut off and listens
// again. Both run in the bus's goroutine and must not block.
func (b *Bus) Subscribe(deliver func(msg []byte), resync func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs = append(b.subs, busSub{deliver, resync})
}

// Publish sends msg to every node listening on the database, this one
// included, when the statement commits.
func (b *Bus) Publish(ctx context.Context, msg []byte) error {
	if len(msg) > MaxBusMessage {
		return fmt.Errorf("publish: %w: %d bytes, over %d", ErrBusMessage, len(msg), MaxBusMessage)
	}
	if !utf8.Valid(msg) || strings.IndexByte(string(msg), 0) >= 0 {
		return fmt.Errorf("publish: %w: not UTF-8 text", ErrBusMessage)
	}
	chunks := split(msg, maxPayload)
	if len(chunks) == 1 {
		if _, err := b.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, b.channel, "1|"+chunks[0]); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		return nil
	}
	// One statement, so one transaction: every chunk or none.
	seq := b.seq.Add(1)
	payloads := make([]string, len(chunks))
	for i, c := range chunks {
		payloads[i] = fmt.Sprintf("%s.%d.%d.%d|%s", b.origin, seq, i, len(chunks), c)
	}
	if _, err := b.pool.Exec(ctx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS t(p, i) ORDER BY i`, b.channel, payloads); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}

// split cuts s into pieces of at most n bytes, never inside a UTF-8
// sequence.
func split(s []byte, n int) []string {
	var out []string
	for len(s) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		out = append(out, string(s[:cut]))
		s = s[cut:]
	}
	return append(out, string(s))
}

// Close stops listening and waits for the bus's goroutine.
func (b *Bus) Close() {
	b.cancel()
	<-b.done
}

// listen takes a connection out of the pool for good and listens on it.
func (b *Bus) listen(ctx context.Context) (*pgx.Conn, error) {
	pc, err := b.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	conn := pc.Hijack()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{b.channel}.Sanitize()); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("listen: %w", err)
	}
	b.mu.Lock()
	b.conn = conn
	b.mu.Unlock()
	return conn, nil
}

// run receives on conn until it fails, then listens again, until ctx ends.
func (b *Bus) run(ctx context.Context, conn *pgx.Conn) {
	defer close(b.done)
	for {
		err := b.receive(ctx, conn)
		b.mu.Lock()
		b.conn = nil
		b.mu.Unlock()
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = conn.Close(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		b.log.Warn("live bus: listening connection lost; listening again", "error", err)
		wait := b.retry
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			conn, err = b.listen(ctx)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			b.log.Warn("live bus: listen failed", "error", err, "retry_in", wait)
			wait = min(2*wait, b.maxRetry)
		}
		b.log.Info("live bus: listening again; messages sent meanwhile were missed")
		for _, s := range b.subscribers() {
			s.resync()
		}
	}
}

func (b *Bus) subscribers() []busSub {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]busSub(nil), b.subs...)
}

// receive delivers what conn receives until it fails.
func (b *Bus) receive(ctx context.Context, conn *pgx.Conn) error {
	j := joiner{}
	for {
		wctx, cancel := context.WithTimeout(ctx, b.idle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if n != nil { // received, even if an error came after it
			b.handle(&j, n)
		}
		if err == nil {
			continue
		}
		if !pgconn.Timeout(err) || ctx.Err() != nil {
			return err
		}
		// Silence: a timed-out wait leaves the connection usable; is the
		// server still there?
		pctx, cancel := context.WithTimeout(ctx, busPing)
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			return fmt.Errorf("ping after %s of silence: %w", b.idle, err)
		}
	}
}

// handle delivers the message a notification completes, if any.
func (b *Bus) handle(j *joiner, n *pgconn.Notification) {
	if n.Channel != b.channel {
		return
	}
	msg, err := j.add(n.Payload)
	if err != nil {
		b.log.Warn("live bus: notification dropped", "error", err, "from_pid", n.PID)
		return
	}
	if msg == nil {
		return // a chunk of a message not complete yet
	}
	for _, s := range b.subscribers() {
		s.deliver(msg)
	}
}

// joiner puts chunked messages back together. Anyone allowed to NOTIFY on
// the database can send anything: what does not parse is an error, and
// what is pending is bounded.
type joiner struct {
	pending map[string]*partial
}

type partial struct {
	chunks []string
	have   int
}

// add takes one payload and returns the message it completes, if any.
func (j *joiner) add(payload string) ([]byte, error) {
	head, body, ok := strings.Cut(payload, "|")
	if !ok {
		return nil, errors.New("no header")
	}
	if head == "1" {
		return []byte(body), nil
	}
	f := strings.Split(head, ".")
	if len(f) != 4 {
		return nil, fmt.Errorf("header %.40q", head)
	}
	i, err1 := strconv.Atoi(f[2])
	n, err2 := strconv.Atoi(f[3])
	if err1 != nil || err2 != nil || n < 2 || n > MaxBusMessage/maxPayload+1 || i < 0 || i >= n || len(body) > maxPayload {
		return nil, fmt.Errorf("header %.40q", head)
	}
	key := f[0] + "." + f[1]
	p := j.pending[key]
	if p == nil {
		if len(j.pending) >= maxPending {
			clear(j.pending) // chunks that never completed: give them up
		}
		if j.pending == nil {
			j.pending = map[string]*partial{}
		}
		p = &partial{chunks: make([]string, n)}
		j.pending[key] = p
	}
	if len(p.chunks) != n {
		delete(j.pending, key)
		return nil, fmt.Errorf("message %s: chunk counts differ", key)
	}
	if p.chunks[i] == "" {
		p.have++
	}
	p.chunks[i] = body
	if p.have < n {
		return nil, nil
	}
	delete(j.pending, key)
	return []byte(strings.Join(p.chunks, "")), nil
}
