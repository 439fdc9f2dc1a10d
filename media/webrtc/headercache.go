package webrtc

import (
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// headerCache is an interceptor that sits under pion's receiver-report
// interceptor and saves it three allocations per received packet.
//
// That interceptor parses each packet's RTP header out of the read's
// interceptor.Attributes (RFC 3550 appendix A.3 bookkeeping), and when the
// read comes with no Attributes, as TrackRemote.Read's does, it makes a
// map and a header for every packet. headerCache hands up one map per
// stream whose cached header it parses each packet into, in place: the
// report interceptor finds the header there and allocates nothing.
//
// Reads of one stream are serialized (pion's SRTP stream allows one
// reader, and Peer.ReadRTP takes turns), so the map and header need no
// lock.
type headerCache struct{ interceptor.NoOp }

// NewInterceptor makes headerCache its own factory: it holds no state
// outside the readers it binds.
func (h *headerCache) NewInterceptor(string) (interceptor.Interceptor, error) { return h, nil }

func (*headerCache) BindRemoteStream(_ *interceptor.StreamInfo, reader interceptor.RTPReader) interceptor.RTPReader {
	attrs := interceptor.Attributes{}
	var hdr *rtp.Header // attrs' cached header, once the first packet stored it
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := reader.Read(b, a)
		if err != nil || a != nil {
			return n, a, err
		}
		if hdr == nil {
			if hdr, err = attrs.GetRTPHeader(b[:n]); err != nil {
				hdr = nil
				return n, nil, err
			}
			return n, attrs, nil
		}
		if _, err := hdr.Unmarshal(b[:n]); err != nil {
			return n, nil, err
		}
		return n, attrs, nil
	})
}
