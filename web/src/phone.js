// The SIP phone: a JsSIP user agent registered over WebSocket (RFC 7118)
// with digest authentication, and one call at a time over WebRTC. Its
// address is sip:ACCOUNT@domain; it authenticates with the short-lived app
// credentials the API issued (authUser, password), which renew() replaces
// while it runs. When the switch answers a REGISTER "403 ... credentials
// expired", the phone asks its refresh callback for new ones and registers
// again, once.
//
// Phone is an EventTarget; it dispatches CustomEvents whose detail says
// what happened:
//   registered      {user}             REGISTER answered 200 (again on each refresh)
//   signinfailed    {error}            plain words; the user agent is stopped
//   connection      {up}               the WebSocket went down or came back
//   state           {state, reason, code}  idle, calling, ringing, connected, ended
//   remotestream    {stream}           the far end's audio arrived (early media too)
//   dtmf            {digit}            the browser started sending a digit (RFC 4733)
import JsSIP from 'jssip';

import { onlyMD5 } from './digest.js';
import { endedReason, failedReason, registrationError } from './reasons.js';
import { restrictCodecs } from './sdp.js';

// Socket is JsSIP's WebSocket with the digest challenges it cannot
// answer taken out of what it receives (digest.js).
class Socket extends JsSIP.WebSocketInterface {
  _onMessage({ data }) {
    super._onMessage({ data: typeof data === 'string' ? onlyMD5(data) : data });
  }
}

export class Phone extends EventTarget {
  constructor() {
    super();
    this.ua = null;
    this.session = null;
    this.remoteStream = null;
    this.state = 'idle';
    this.reason = '';
    this.user = '';
    this.domain = '';
    this.registered = false;
    this.authUser = '';
    this.refresh = null; // async () => {authUser, password}: new credentials
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // signIn starts a user agent for sip:user@domain on the WebSocket url and
  // registers it, authenticating as authUser (user when not given); the
  // outcome is a registered or signinfailed event. refresh, when given,
  // fetches new credentials when the switch says these expired.
  signIn({ url, user, authUser, password, domain, refresh }) {
    this.signOut();
    let ua;
    try {
      ua = new JsSIP.UA({
        sockets: [new Socket(url)],
        uri: new JsSIP.URI('sip', user, domain).toString(),
        authorization_user: authUser || user,
        password,
        register: true,
        register_expires: 300,
        session_timers: false,
        user_agent: `Dialtone dialer (JsSIP ${JsSIP.version})`,
        connection_recovery_min_interval: 2,
        connection_recovery_max_interval: 30,
      });
    } catch (err) {
      this.emit('signinfailed', { error: `cannot sign in: ${err.message || err}` });
      return;
    }
    this.ua = ua;
    this.user = user;
    this.authUser = authUser || user;
    this.domain = domain;
    this.refresh = refresh || null;
    let retried = false;
    ua.on('registered', () => {
      retried = false;
      this.registered = true;
      this.emit('registered', { user, authUser: this.authUser });
    });
    ua.on('registrationFailed', (e) => {
      const r = e.response;
      if (r && r.status_code === 403 && /expired/i.test(r.reason_phrase || '') && this.refresh && !retried) {
        retried = true;
        this.refresh().then((c) => {
          if (this.ua === ua) {
            this.renew(c);
            ua.register();
          }
        }, (err) => this.fail(String(err.message || err)));
        return;
      }
      this.fail(registrationError(e));
    });
    ua.on('connected', () => this.emit('connection', { up: true }));
    ua.on('disconnected', () => {
      if (!this.registered) {
        this.fail(`cannot reach the switch at ${url}`);
        return;
      }
      this.emit('connection', { up: false }); // JsSIP reconnects and registers again
    });
    ua.start();
  }

  // renew makes the user agent authenticate with new credentials from its
  // next request on (JsSIP derives the digest hashes from the password).
  renew({ authUser, password }) {
    if (!this.ua) {
      return;
    }
    this.ua.set('authorization_user', authUser);
    this.ua.set('password', password);
    this.authUser = authUser;
  }

  // fail ends a sign-in that did not work.
  fail(error) {
    if (this.ua) {
      this.signOut();
      this.emit('signinfailed', { error });
    }
  }

  // signOut hangs up, unregisters and stops the user agent.
  signOut() {
    const ua = this.ua;
    if (!ua) {
      return;
    }
    this.ua = null;
    this.registered = false;
    this.hangup();
    ua.removeAllListeners();
    ua.stop();
    if (this.state !== 'idle') {
      this.setState('idle');
    }
  }

  setState(state, reason = '', code = 0) {
    this.state = state;
    this.reason = reason;
    this.emit('state', { state, reason, code });
  }

  // call dials target (the user part of sip:target@domain). codecs, when
  // given, restricts the audio offer to those encodings (e.g. ['PCMU']).
  call(target, { codecs } = {}) {
    if (!this.ua || (this.state !== 'idle' && this.state !== 'ended')) {
      return;
    }
    this.remoteStream = null;
    this.setState('calling');
    let done = false;
    const end = (reason, code) => {
      if (!done) {
        done = true;
        this.setState('ended', reason, code);
      }
    };
    const options = {
      mediaConstraints: { audio: true, video: false },
      rtcOfferConstraints: { offerToReceiveAudio: true },
      pcConfig: { iceServers: [] }, // host candidates only: no STUN
      eventHandlers: {
        // Emitted inside ua.call, before it returns: hence here.
        peerconnection: ({ peerconnection }) => this.watch(peerconnection),
        sdp: (e) => {
          if (codecs && codecs.length && e.originator === 'local' && e.type === 'offer') {
            e.sdp = restrictCodecs(e.sdp, codecs);
          }
        },
        progress: (e) => {
          if (e.originator === 'remote' && this.state === 'calling') {
            this.setState('ringing');
          }
        },
        confirmed: () => {
          this.attachReceivers();
          this.watchDTMF();
          this.setState('connected');
        },
        failed: (e) => end(failedReason(e), (e.message && e.message.status_code) || 0),
        ended: (e) => end(endedReason(e), 0),
      },
    };
    try {
      this.session = this.ua.call(new JsSIP.URI('sip', target, this.domain).toString(), options);
    } catch (err) {
      end(`call could not be started: ${err.message || err}`, 0);
    }
  }

  // watch attaches the far end's audio as soon as its track arrives: with
  // the 183's SDP (early media) or the 200's.
  watch(pc) {
    pc.addEventListener('track', (e) => {
      const stream = e.streams[0] || new MediaStream([e.track]);
      if (this.remoteStream !== stream) {
        this.remoteStream = stream;
        this.emit('remotestream', { stream });
      }
    });
  }

  // attachReceivers covers a browser that fired no track event.
  attachReceivers() {
    const pc = this.session && this.session.connection;
    if (this.remoteStream || !pc) {
      return;
    }
    const tracks = pc.getReceivers().map((r) => r.track).filter((t) => t && t.kind === 'audio');
    if (tracks.length > 0) {
      this.remoteStream = new MediaStream(tracks);
      this.emit('remotestream', { stream: this.remoteStream });
    }
  }

  // watchDTMF reports each digit the browser starts sending in the RTP
  // stream (RTCDTMFSender, RFC 4733 events).
  watchDTMF() {
    const pc = this.session && this.session.connection;
    const sender = pc && pc.getSenders().find((s) => s.track && s.track.kind === 'audio');
    if (sender && sender.dtmf) {
      sender.dtmf.addEventListener('tonechange', (e) => {
        if (e.tone) {
          this.emit('dtmf', { digit: e.tone });
        }
      });
    }
  }

  // hangup cancels a call being set up or ends a connected one.
  hangup() {
    if (this.session && !this.session.isEnded()) {
      try {
        this.session.terminate();
      } catch {
        // already ending
      }
    }
  }

  // sendDTMF sends one digit as an RFC 4733 event in the audio stream.
  sendDTMF(digit) {
    if (this.state !== 'connected') {
      return false;
    }
    try {
      this.session.sendDTMF(digit, { transportType: 'RFC2833' });
      return true;
    } catch {
      return false;
    }
  }

  // toggleMute mutes or unmutes the microphone; it returns whether it is muted.
  toggleMute() {
    if (!this.session || this.state !== 'connected') {
      return false;
    }
    if (this.session.isMuted().audio) {
      this.session.unmute({ audio: true });
    } else {
      this.session.mute({ audio: true });
    }
    return this.session.isMuted().audio;
  }
}
