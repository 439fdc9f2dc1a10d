package e2e

import (
	"cmp"
	"fmt"
	"strings"
)

// App side (sipp as the user's phone). Every call authenticates: the first
// INVITE is challenged with 407 and repeated with credentials.

type appCall struct {
	user, password string
	from           string // the From user it presents; user when empty
	warning        string // with a failure code: a regular expression the response's Warning must match
	pcap           bool   // play 7 s of PCMA from sipp's bundled pcap after the answer
	holdMS         int    // then wait this long
	end            string // "bye" (app hangs up), "wait-bye" (the far end or the switch does), "cancel", or a SIP code the call must fail with
}

const appHeaders = `Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:%[1]s@[remote_ip]>;tag=[pid]A[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>`

const appSDP = `v=0
      o=app 1 1 IN IP4 [local_ip]
      s=-
      c=IN IP4 [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 0 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
      a=ptime:20`

func (a appCall) scenario() string {
	from := cmp.Or(a.from, a.user)
	h := fmt.Sprintf(appHeaders, from)
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="app">
  <send retrans="500" start_txn="inv1"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      %[1]s
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:%[2]s@[local_ip]:[local_port]>
      User-Agent: secret-app-client/9.9
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      %[3]s
  ]]></send>
  <recv response="100" optional="true" response_txn="inv1"/>
  <recv response="407" auth="true" response_txn="inv1"/>
  <send ack_txn="inv1"><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: <sip:%[5]s@[remote_ip]>;tag=[pid]A[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <send retrans="500" start_txn="inv2"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      %[1]s
      Call-ID: [call_id]
      CSeq: 2 INVITE
      Contact: <sip:%[2]s@[local_ip]:[local_port]>
      [authentication username=%[2]s password=%[4]s]
      User-Agent: secret-app-client/9.9
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      %[3]s
  ]]></send>
  <recv response="100" optional="true" response_txn="inv2"/>
`, h, a.user, appSDP, a.password, from)

	ackFinal := func() string {
		return fmt.Sprintf(`  <send ack_txn="inv2"><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: <sip:%[1]s@[remote_ip]>;tag=[pid]A[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
`, from)
	}
	switch a.end {
	case "bye", "wait-bye":
		b.WriteString(`  <recv response="180" optional="true" response_txn="inv2"/>
  <recv response="183" optional="true" response_txn="inv2"/>
  <recv response="200" rrs="true" response_txn="inv2"/>
`)
		fmt.Fprintf(&b, `  <send ack_txn="inv2"><![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:%[1]s@[remote_ip]>;tag=[pid]A[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      [routes]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
`, from)
		if a.pcap {
			b.WriteString(`  <nop><action><exec play_pcap_audio="pcap/g711a.pcap"/></action></nop>
`)
		}
		if a.end == "bye" {
			fmt.Fprintf(&b, `  <pause milliseconds="%d"/>
  <send retrans="500"><![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:%[2]s@[remote_ip]>;tag=[pid]A[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      [routes]
      Call-ID: [call_id]
      CSeq: 3 BYE
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200" crlf="true"/>
`, a.holdMS, from)
		} else {
			b.WriteString(`  <recv request="BYE"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
`)
		}
	case "cancel":
		fmt.Fprintf(&b, `  <recv response="180" response_txn="inv2"/>
  <pause milliseconds="300"/>
  <send start_txn="cancel"><![CDATA[
      CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: <sip:%[1]s@[remote_ip]>;tag=[pid]A[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 2 CANCEL
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200" response_txn="cancel"/>
  <recv response="487" response_txn="inv2"/>
`, from)
		b.WriteString(ackFinal())
	default: // a failure code
		b.WriteString(`  <recv response="180" optional="true" response_txn="inv2"/>
  <recv response="183" optional="true" response_txn="inv2"/>
`)
		if a.warning == "" {
			fmt.Fprintf(&b, `  <recv response="%s" response_txn="inv2"/>
`, a.end)
		} else {
			fmt.Fprintf(&b, `  <recv response="%s" response_txn="inv2">
    <action>
      <ereg regexp="%s" search_in="hdr" header="Warning:" check_it="true" assign_to="warning"/>
    </action>
  </recv>
  <Reference variables="warning"/>
`, a.end, a.warning)
		}
		b.WriteString(ackFinal())
	}
	b.WriteString("</scenario>\n")
	return b.String()
}

// Carrier side (sipp as the carrier's SIP server).

type carrier struct {
	answer  string   // "200" (answer), "486" (busy), "ring" (ring until CANCEL), "cross" (answer the INVITE after a CANCEL), "cross-first" (answer the INVITE, then the CANCEL), "cross-481" (answer the INVITE, then 481 to the CANCEL), "503", "200nosdp"
	rtpPort int      // where the carrier's SDP says to send media
	early   bool     // send 183 with SDP (early media) before 200
	earlyMS int      // with early: how long after the 183 the 200 comes; 500 when zero
	byeMS   int      // with answer "200": the carrier hangs up after this long; 0 waits for BYE
	auth    string   // "user:password": challenge the INVITE with 401 and refuse (403) a wrong answer
	expect  []string // regular expressions the INVITE must match, or the call fails (no < > " & : sipp's XML does not decode entities)
	codec   string   // the codec it answers: "PCMA" (the default) or "PCMU"
	eventPT int      // its telephone-event payload type; 101 when zero
}

func (c carrier) scenario() string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="carrier">
  <recv request="INVITE" crlf="true" rrs="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="from_hdr"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="to_hdr"/>
      <ereg regexp="([0-9]+) INVITE" search_in="hdr" header="CSeq:" assign_to="dummy,inv_cseq"/>
      <ereg regexp="secret-app-client|sip:alice@127\.0\.0\.1:[0-9]+|branch=z9hG4bK-[0-9]+-|[0-9]+-[0-9]+@127\.0\.0\.1" search_in="msg" check_it_inverse="true" assign_to="leak"/>
`)
	var refs []string
	for i, re := range c.expect {
		fmt.Fprintf(&b, `      <ereg regexp="%s" search_in="msg" check_it="true" assign_to="want%d"/>
`, re, i)
		refs = append(refs, fmt.Sprintf(",want%d", i))
	}
	fmt.Fprintf(&b, `    </action>
  </recv>
  <Reference variables="dummy,leak,from_hdr,to_hdr,inv_cseq%s"/>
`, strings.Join(refs, ""))
	codec, pt, ept := "PCMA", 8, 101
	if c.codec == "PCMU" {
		codec, pt = "PCMU", 0
	}
	if c.eventPT != 0 {
		ept = c.eventPT
	}
	sdp := fmt.Sprintf(`v=0
      o=carrier 1 1 IN IP4 127.0.0.1
      s=-
      c=IN IP4 127.0.0.1
      t=0 0
      m=audio %d RTP/AVP %d %d
      a=rtpmap:%d %s/8000
      a=rtpmap:%d telephone-event/8000
      a=fmtp:%d 0-16`, c.rtpPort, pt, ept, pt, codec, ept, ept)
	resp := func(code, reason, body string) string {
		ct := ""
		if body != "" {
			ct = "\n      Content-Type: application/sdp"
		}
		return fmt.Sprintf(`  <send><![CDATA[
      SIP/2.0 %s %s
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]C[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:carrier@[local_ip]:[local_port]>%s
      Content-Length: [len]

      %s
  ]]></send>
`, code, reason, ct, body)
	}
	if c.auth != "" {
		user, pass, _ := strings.Cut(c.auth, ":")
		// 401 rather than 407: sipp's verifyauth reads the Authorization header only.
		b.WriteString(strings.Replace(resp("401", "Unauthorized", ""), "Content-Length: [len]",
			`WWW-Authenticate: Digest realm="carrier.example", nonce="47ebe028cda119c35d4877b383027d28da013815", algorithm=MD5
      Content-Length: [len]`, 1))
		fmt.Fprintf(&b, `  <recv request="ACK"/>
  <recv request="INVITE" check_it="true">
    <action>
      <verifyauth assign_to="authvalid" username="%s" password="%s"/>
    </action>
  </recv>
  <Reference variables="authvalid"/>
  <nop hide="true" test="authvalid" next="authok"/>
%s  <recv request="ACK" next="end"/>
  <label id="authok"/>
`, user, pass, resp("403", "Forbidden", ""))
	}
	switch c.answer {
	case "200":
		b.WriteString(resp("100", "Trying", ""))
		if c.early {
			b.WriteString(resp("183", "Session Progress", sdp))
			fmt.Fprintf(&b, `  <pause milliseconds="%d"/>
`, cmp.Or(c.earlyMS, 500))
		} else {
			b.WriteString(resp("180", "Ringing", ""))
		}
		b.WriteString(resp("200", "OK", sdp))
		b.WriteString(`  <recv request="ACK" crlf="true"/>
`)
		if c.byeMS > 0 {
			fmt.Fprintf(&b, `  <pause milliseconds="%d"/>
  <send retrans="500"><![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$to_hdr];tag=[pid]C[call_number]
      To: [$from_hdr]
      Call-ID: [call_id]
      CSeq: 1 BYE
      Contact: <sip:carrier@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200" crlf="true"/>
`, c.byeMS)
		} else {
			b.WriteString(`  <recv request="BYE"/>
` + okToLast)
		}
	case "200nosdp": // answers without the SDP it owes
		b.WriteString(resp("200", "OK", ""))
		b.WriteString(`  <recv request="ACK"/>
  <recv request="BYE"/>
` + okToLast)
	case "cross": // answers although the switch cancelled: the 200 crosses the CANCEL
		b.WriteString(resp("180", "Ringing", ""))
		b.WriteString(`  <recv request="CANCEL"/>
` + okToLast + strings.Replace(resp("200", "OK", sdp), "[last_CSeq:]", "CSeq: [$inv_cseq] INVITE", 1) + `  <recv request="ACK"/>
  <recv request="BYE"/>
` + okToLast)
	case "cross-first", "cross-481":
		// Its 200 to the INVITE goes out before its answer to the CANCEL:
		// 200, or 481 since that 200 ended the INVITE's transaction (RFC
		// 3261 section 9.2). The switch ACKs the 200 without waiting for it.
		cancelCode := map[string]string{"cross-first": "200 OK", "cross-481": "481 Call/Transaction Does Not Exist"}[c.answer]
		b.WriteString(resp("180", "Ringing", ""))
		b.WriteString(`  <recv request="CANCEL">
    <action><ereg regexp=".*" search_in="hdr" header="Via:" assign_to="cancel_via"/></action>
  </recv>
` + strings.Replace(resp("200", "OK", sdp), "[last_CSeq:]", "CSeq: [$inv_cseq] INVITE", 1) + `  <recv request="ACK"/>
  <send><![CDATA[
      SIP/2.0 ` + cancelCode + `
      Via: [$cancel_via]
      From: [$from_hdr]
      To: [$to_hdr]
      [last_Call-ID:]
      CSeq: [$inv_cseq] CANCEL
      Content-Length: 0

  ]]></send>
  <recv request="BYE"/>
` + okToLast)
	case "ring":
		b.WriteString(resp("180", "Ringing", ""))
		b.WriteString(`  <recv request="CANCEL"/>
` + okToLast + strings.Replace(resp("487", "Request Terminated", ""), "[last_CSeq:]", "CSeq: [$inv_cseq] INVITE", 1) + `  <recv request="ACK"/>
`)
	default:
		reason := map[string]string{"486": "Busy Here", "503": "Service Unavailable", "404": "Not Found"}[c.answer]
		b.WriteString(resp(c.answer, reason, ""))
		b.WriteString(`  <recv request="ACK"/>
`)
	}
	if c.auth != "" {
		b.WriteString(`  <label id="end"/>
`)
	}
	b.WriteString("</scenario>\n")
	return b.String()
}

const okToLast = `  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
`
