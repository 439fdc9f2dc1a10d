package codec

import "fmt"

// Sample is what a Packetizer holds: G.711 bytes or linear PCM.
type Sample interface{ ~byte | ~int16 }

// Packetizer cuts a stream of audio at 8000 Hz into packets of a fixed
// number of samples: the packet time the receiver asked for (a=ptime, RFC
// 4566 section 6; 20 ms for G.711 by default, RFC 3551 section 4.5.14),
// whatever the durations of the source's packets. Samples wait in it
// until they fill a packet.
//
// Each packet's timestamp is its first sample's, so consecutive packets
// are frame ticks apart, except across a gap: audio pushed at a timestamp
// other than where the audio before it ended (DTX, a telephone-event sent
// in place of audio, a loss not concealed). A gap shorter than what the
// part-full packet lacks is filled with silence, keeping its time; at a
// longer one (or time going back) the part-full packet is completed with
// silence, and the packet after the gap starts a talkspurt: Pop reports
// it, for the marker bit (RFC 3551 section 4.1). So is the first packet.
//
// It allocates only in NewPacketizer. Not safe for concurrent use.
type Packetizer[S Sample] struct {
	frame, max int
	silence    S
	buf        []S
	head, tail int    // buf[head:tail] waits
	ts         uint32 // timestamp of buf[head]
	next       uint32 // timestamp just past the samples pushed
	seg        int    // index in buf where audio after a gap starts, at segTS; -1 for none
	segTS      uint32
	markAt     int // index in buf of the packet that starts a talkspurt; -1 for none
	started    bool
}

// NewPacketizer makes packets of frame samples from pushes of at most max
// samples each; silence is the sample a gap is filled with.
func NewPacketizer[S Sample](frame, max int, silence S) (*Packetizer[S], error) {
	if frame <= 0 || max <= 0 {
		return nil, fmt.Errorf("packetizer of %d samples from %d: %w", frame, max, ErrFrameSize)
	}
	return &Packetizer[S]{frame: frame, max: max, silence: silence, buf: make([]S, 2*frame+max), seg: -1, markAt: -1}, nil
}

// Frame is the number of samples in a packet.
func (p *Packetizer[S]) Frame() int { return p.frame }

// Next is the timestamp just past the samples pushed so far: where the
// next push goes on without a gap.
func (p *Packetizer[S]) Next() uint32 { return p.next }

// Reset drops the samples waiting, for a new source whose timestamps do
// not go on from the old one's; the next push starts a talkspurt.
func (p *Packetizer[S]) Reset() {
	p.head, p.tail, p.seg, p.markAt, p.started = 0, 0, -1, -1, false
}

// Push takes in samples a whose first is at timestamp ts. Call Pop until
// it has nothing before the next Push: packets left full are dropped
// then. A push of more than max samples is ErrShortBuffer and changes
// nothing.
func (p *Packetizer[S]) Push(a []S, ts uint32) error {
	if len(a) > p.max {
		return fmt.Errorf("packetize %d samples, at most %d: %w", len(a), p.max, ErrShortBuffer)
	}
	if full := (p.tail - p.head) / p.frame * p.frame; full > 0 {
		p.head += full
		p.ts += uint32(full)
	}
	if p.seg >= 0 && p.seg <= p.head { // the waiting samples are after a gap
		p.ts = p.segTS + uint32(p.head-p.seg)
	}
	markAt := -1
	if p.markAt == p.head { // they start a talkspurt
		markAt = 0
	}
	p.tail = copy(p.buf, p.buf[p.head:p.tail])
	p.head, p.seg, p.markAt = 0, -1, markAt
	wait := p.tail
	switch gap := int32(ts - p.next); {
	case !p.started:
		p.ts, p.markAt, p.started = ts, 0, true
	case gap == 0:
	case wait > 0 && gap > 0 && int(gap) <= p.frame-wait:
		p.tail += fill(p.buf[p.tail:p.tail+int(gap)], p.silence)
	case wait > 0:
		p.tail += fill(p.buf[p.tail:p.frame], p.silence)
		p.seg, p.segTS, p.markAt = p.frame, ts, p.frame
	default:
		p.ts, p.markAt = ts, 0
	}
	p.tail += copy(p.buf[p.tail:], a)
	p.next = ts + uint32(len(a))
	return nil
}

// Pop returns the oldest full packet: its samples, valid until the next
// Push; its timestamp; and whether it starts a talkspurt. ok is false when
// no packet is full.
func (p *Packetizer[S]) Pop() (pkt []S, ts uint32, start, ok bool) {
	if p.tail-p.head < p.frame {
		return nil, 0, false, false
	}
	if p.head == p.seg {
		p.ts, p.seg = p.segTS, -1
	}
	start = p.head == p.markAt
	pkt, ts = p.buf[p.head:p.head+p.frame], p.ts
	p.head += p.frame
	p.ts += uint32(p.frame)
	return pkt, ts, start, true
}

func fill[S Sample](b []S, v S) int {
	for i := range b {
		b[i] = v
	}
	return len(b)
}
