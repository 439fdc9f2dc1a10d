// The page's configuration: what the switch says in /config.json.

// loadConfig fetches /config.json from the switch that served the page.
export async function loadConfig() {
  const res = await fetch('config.json', { cache: 'no-store' });
  if (!res.ok) {
    throw new Error(`config.json: ${res.status} ${res.statusText}`);
  }
  return res.json();
}

// sipURL is the WebSocket URL of the switch's SIP listener: sip_url when
// the switch names one, else the page's host name with ws_port (wss when
// ws_secure). Empty when the switch has no WebSocket listener.
export function sipURL(cfg, location) {
  if (cfg.sip_url) {
    return cfg.sip_url;
  }
  if (!cfg.ws_port) {
    return '';
  }
  const host = location.hostname.includes(':') ? `[${location.hostname}]` : location.hostname;
  return `${cfg.ws_secure ? 'wss' : 'ws'}://${host}:${cfg.ws_port}`;
}
