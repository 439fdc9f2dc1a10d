package codec

import "fmt"

// maxOpusFrameBytes is the largest compressed frame RFC 6716 section 3.4
// allows (requirement R2).
const maxOpusFrameBytes = 1275

// opusDuration checks the framing of an Opus packet (RFC 6716 section 3,
// non-self-delimited) and returns its duration in 48 kHz samples and the
// duration of each of its frames. It accepts exactly what libopus's
// opus_packet_parse accepts, so a packet it passes decodes without a
// framing error; the frames' contents are not checked (there is nothing to
// check: the range decoder reads any bytes).
func opusDuration(p []byte) (total, frame int, err error) {
	if len(p) == 0 { // R1
		return 0, 0, fmt.Errorf("%w: empty", ErrOpusPacket)
	}
	toc := p[0]
	frame = opusFrameSamples(toc)
	rest := len(p) - 1
	count, last := 1, rest
	switch toc & 0x3 { // section 3.2: the frame count code
	case 0: // one frame
	case 1: // two frames of equal size (R3)
		count = 2
		if rest%2 != 0 {
			return 0, 0, fmt.Errorf("%w: code 1 with %d odd bytes", ErrOpusPacket, rest)
		}
		last = rest / 2
	case 2: // two frames, the first one's length coded (R4)
		count = 2
		size, n, ok := opusFrameLength(p[1:])
		if !ok || size > rest-n {
			return 0, 0, fmt.Errorf("%w: code 2 first frame does not fit", ErrOpusPacket)
		}
		last = rest - n - size
	default: // code 3: a frame count byte, optional padding, CBR or VBR (R5-R7)
		if rest < 1 {
			return 0, 0, fmt.Errorf("%w: code 3 without frame count", ErrOpusPacket)
		}
		ch := p[1]
		count = int(ch & 0x3f)
		if count == 0 || frame*count > 5760 { // R5: 1 to 120 ms
			return 0, 0, fmt.Errorf("%w: code 3 with %d frames", ErrOpusPacket, count)
		}
		i := 2
		rest--
		if ch&0x40 != 0 { // padding length bytes: 255 means 254 and another byte
			for {
				if rest <= 0 {
					return 0, 0, fmt.Errorf("%w: padding length past the end", ErrOpusPacket)
				}
				b := int(p[i])
				i++
				rest -= 1 + min(b, 254)
				if b != 255 {
					break
				}
			}
			if rest < 0 {
				return 0, 0, fmt.Errorf("%w: padding longer than the packet", ErrOpusPacket)
			}
		}
		if ch&0x80 == 0 { // CBR (R6)
			if rest%count != 0 {
				return 0, 0, fmt.Errorf("%w: code 3 CBR %d bytes for %d frames", ErrOpusPacket, rest, count)
			}
			last = rest / count
		} else { // VBR (R7)
			last = rest
			for range count - 1 {
				size, n, ok := opusFrameLength(p[i:min(i+rest, len(p))])
				if !ok || size > rest-n {
					return 0, 0, fmt.Errorf("%w: code 3 VBR frame does not fit", ErrOpusPacket)
				}
				i += n
				rest -= n
				last -= n + size
			}
			if last < 0 {
				return 0, 0, fmt.Errorf("%w: code 3 VBR frames overrun", ErrOpusPacket)
			}
		}
	}
	if last > maxOpusFrameBytes { // R2, for the frame whose length is implicit
		return 0, 0, fmt.Errorf("%w: %d-byte frame", ErrOpusPacket, last)
	}
	return frame * count, frame, nil
}

// opusFrameSamples is the duration of one frame at 48 kHz from the TOC
// byte's configuration number (RFC 6716 section 3.1, table 2).
func opusFrameSamples(toc byte) int {
	switch {
	case toc&0x80 != 0: // CELT-only: 2.5, 5, 10, 20 ms
		return 120 << (toc >> 3 & 0x3)
	case toc&0x60 == 0x60: // hybrid: 10, 20 ms
		if toc&0x08 != 0 {
			return 960
		}
		return 480
	default: // SILK-only: 10, 20, 40, 60 ms
		if toc>>3&0x3 == 3 {
			return 2880
		}
		return 480 << (toc >> 3 & 0x3)
	}
}

// opusFrameLength reads a frame length coded in one or two bytes (RFC
// 6716 section 3.2.1) and returns it with the bytes it took.
func opusFrameLength(b []byte) (size, n int, ok bool) {
	switch {
	case len(b) < 1:
		return 0, 0, false
	case b[0] < 252:
		return int(b[0]), 1, true
	case len(b) < 2:
		return 0, 0, false
	}
	return 4*int(b[1]) + int(b[0]), 2, true
}
