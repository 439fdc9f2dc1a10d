package codec

import (
	"errors"
	"fmt"

	"gopkg.in/hraban/opus.v2"
)

// opusRate is the rate libopus encodes from and decodes to here: G.711's,
// so no resampler sits between the two codecs. The Opus RTP clock stays
// 48000 whatever this rate is (RFC 7587 section 4.1).
const opusRate = 8000

// maxOpusSamples is the longest Opus packet, 120 ms (RFC 6716 section
// 3.2.5), at opusRate.
const maxOpusSamples = 120 * opusRate / 1000

// OpusConfig tunes an [OpusEncoder]. Start from [DefaultOpusConfig].
type OpusConfig struct {
	// Bitrate in bits per second, 6000 to 510000. Narrowband SILK gains
	// little above ~20000; in-band FEC needs headroom above ~14000.
	Bitrate int `yaml:"bitrate"`
	// Complexity is libopus's 0 (cheapest) to 10 (best); each step costs
	// CPU on every packet of every call.
	Complexity int `yaml:"complexity"`
	// PacketLoss is the loss the encoder expects, in percent (0-100).
	// In-band FEC is always on; with 0 the encoder spends nothing on it.
	// Higher values protect more and leave fewer bits for the audio.
	PacketLoss int `yaml:"packet_loss"`
}

// DefaultOpusConfig is what the switch uses for the app leg: 24 kbit/s,
// complexity 0, 10 % expected loss. At 8 kHz the audio comes from G.711
// and SILK at 24 kbit/s carries it with room to spare, so the cheapest
// complexity costs little quality and about half the CPU of complexity 5
// (encoding is most of a transcoded call's cost).
func DefaultOpusConfig() OpusConfig {
	return OpusConfig{Bitrate: 24000, Complexity: 0, PacketLoss: 10}
}

func (c OpusConfig) validate() error {
	switch {
	case c.Bitrate < 6000 || c.Bitrate > 510000:
		return fmt.Errorf("%w: bitrate %d", ErrConfig, c.Bitrate)
	case c.Complexity < 0 || c.Complexity > 10:
		return fmt.Errorf("%w: complexity %d", ErrConfig, c.Complexity)
	case c.PacketLoss < 0 || c.PacketLoss > 100:
		return fmt.Errorf("%w: packet loss %d%%", ErrConfig, c.PacketLoss)
	}
	return nil
}

// OpusEncoder encodes 8 kHz mono PCM to Opus: application VoIP,
// narrowband, in-band FEC on (RFC 6716 section 2.1.7).
type OpusEncoder struct {
	enc opus.Encoder
}

// NewOpusEncoder makes an encoder with cfg.
func NewOpusEncoder(cfg OpusConfig) (*OpusEncoder, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &OpusEncoder{}
	if err := e.enc.Init(opusRate, 1, opus.AppVoIP); err != nil {
		return nil, fmt.Errorf("opus encoder init: %w", err)
	}
	for _, set := range []struct {
		name string
		err  error
	}{
		{"bitrate", e.enc.SetBitrate(cfg.Bitrate)},
		{"complexity", e.enc.SetComplexity(cfg.Complexity)},
		{"max bandwidth", e.enc.SetMaxBandwidth(opus.Narrowband)},
		{"in-band fec", e.enc.SetInBandFEC(true)},
		{"packet loss", e.enc.SetPacketLossPerc(cfg.PacketLoss)},
	} {
		if set.err != nil {
			return nil, fmt.Errorf("opus encoder set %s: %w", set.name, set.err)
		}
	}
	return e, nil
}

// SetPacketLoss changes the expected loss, in percent, for instance from
// the fraction lost in the peer's RTCP receiver reports.
func (e *OpusEncoder) SetPacketLoss(percent int) error {
	if percent < 0 || percent > 100 {
		return fmt.Errorf("%w: packet loss %d%%", ErrConfig, percent)
	}
	if err := e.enc.SetPacketLossPerc(percent); err != nil {
		return fmt.Errorf("opus encoder set packet loss: %w", err)
	}
	return nil
}

// Encode encodes pcm, one packet's worth (20, 40, 80, 160, 320, 480, 640,
// 800 or 960 samples: 2.5 to 120 ms), into dst and returns the packet's
// length. A dst of [MaxPayload] bytes always suffices.
func (e *OpusEncoder) Encode(dst []byte, pcm []int16) (int, error) {
	if !opusFrameSize(len(pcm)) {
		return 0, fmt.Errorf("opus encode %d samples: %w", len(pcm), ErrFrameSize)
	}
	if len(dst) == 0 {
		return 0, fmt.Errorf("opus encode into 0 bytes: %w", ErrShortBuffer)
	}
	// hraban/opus writes up to cap(dst): cap it at len(dst).
	n, err := e.enc.Encode(pcm, dst[:len(dst):len(dst)])
	if err != nil {
		if errors.Is(err, opus.ErrBufferTooSmall) {
			return 0, fmt.Errorf("opus encode into %d bytes: %w", len(dst), ErrShortBuffer)
		}
		return 0, fmt.Errorf("opus encode: %w", err)
	}
	return n, nil
}

// opusFrameSize reports whether n samples at opusRate make an Opus packet
// libopus encodes: 2.5, 5, 10, 20, 40, 60, 80, 100 or 120 ms.
func opusFrameSize(n int) bool {
	switch n {
	case 20, 40, 80, 160, 320, 480, 640, 800, 960:
		return true
	}
	return false
}

// OpusDecoder decodes Opus to 8 kHz mono PCM and conceals lost packets.
type OpusDecoder struct {
	dec  opus.Decoder
	last int // samples of the last decode or concealment; an empty packet is concealed for as long
}

// NewOpusDecoder makes a decoder.
func NewOpusDecoder() (*OpusDecoder, error) {
	d := &OpusDecoder{last: FrameSamples}
	if err := d.dec.Init(opusRate, 1); err != nil {
		return nil, fmt.Errorf("opus decoder init: %w", err)
	}
	return d, nil
}

// Decode decodes one Opus packet into dst and returns the samples
// written: the packet's duration, up to 960 (120 ms). An empty packet (a
// lost packet with nothing after it to take FEC from) is concealed for as
// long as the last Decode, Conceal or DecodeFEC wrote. A packet of one or
// two bytes (DTX, RFC 6716 section 2.1.9) decodes to comfort noise.
func (d *OpusDecoder) Decode(dst []int16, packet []byte) (int, error) {
	if len(packet) == 0 {
		if len(dst) < d.last {
			return 0, fmt.Errorf("opus conceal %d samples into %d: %w", d.last, len(dst), ErrShortBuffer)
		}
		return d.Conceal(dst[:d.last])
	}
	total, _, err := opusDuration(packet)
	if err != nil {
		return 0, fmt.Errorf("opus decode: %w", err)
	}
	return d.decode(dst, packet, total/(48000/opusRate))
}

// decode decodes a packet already checked by opusDuration, of n samples.
func (d *OpusDecoder) decode(dst []int16, packet []byte, n int) (int, error) {
	if len(dst) < n {
		return 0, fmt.Errorf("opus decode %d samples into %d: %w", n, len(dst), ErrShortBuffer)
	}
	got, err := d.dec.Decode(packet, dst[:n:n])
	if err != nil {
		return 0, fmt.Errorf("opus decode: %w: %w", ErrOpusPacket, err)
	}
	d.last = got
	return got, nil
}

// Conceal fills dst with packet loss concealment (PLC) and returns
// len(dst), which must be a multiple of 20 samples (2.5 ms).
func (d *OpusDecoder) Conceal(dst []int16) (int, error) {
	if len(dst) == 0 || len(dst)%20 != 0 {
		return 0, fmt.Errorf("opus conceal %d samples: %w", len(dst), ErrFrameSize)
	}
	if err := d.dec.DecodePLC(dst[:len(dst):len(dst)]); err != nil {
		return 0, fmt.Errorf("opus conceal: %w", err)
	}
	d.last = len(dst)
	return len(dst), nil
}

// DecodeFEC fills dst, audio lost just before next, from next's in-band
// FEC data (RFC 6716 section 2.1.7) and returns len(dst), which must be a
// multiple of 20 samples. FEC covers the last frame before next; libopus
// conceals whatever comes before that, and conceals all of dst when next
// carries no FEC. Decode next itself afterwards.
func (d *OpusDecoder) DecodeFEC(dst []int16, next []byte) (int, error) {
	if len(dst) == 0 || len(dst)%20 != 0 {
		return 0, fmt.Errorf("opus fec %d samples: %w", len(dst), ErrFrameSize)
	}
	if _, _, err := opusDuration(next); err != nil {
		return 0, fmt.Errorf("opus fec: %w", err)
	}
	if err := d.dec.DecodeFEC(next, dst[:len(dst):len(dst)]); err != nil {
		return 0, fmt.Errorf("opus fec: %w: %w", ErrOpusPacket, err)
	}
	d.last = len(dst)
	return len(dst), nil
}
