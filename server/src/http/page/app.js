// tickd's live page: symbols (GET /symbols), candles of the chosen symbol and interval
// (GET /candles, then `candle` messages on the seed WebSocket), its quote (GET /price/latest,
// then `quote_update` messages) and the trades since the page opened (`trade` messages), and
// the server's state (GET /health every 2 s). A `?token=` in the page's URL is passed on to
// every request (servers with tokens need one with the subscribe role).
"use strict";

const params = new URLSearchParams(location.search);
const token = params.get("token");
const withToken = (path) =>
  token ? path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : path;
const $ = (id) => document.getElementById(id);
const MAX_TRADES = 20;

const chart = LightweightCharts.createChart($("chart"), {
  layout: { background: { color: "#171a21" }, textColor: "#d6d9e0" },
  grid: { vertLines: { color: "#262a33" }, horzLines: { color: "#262a33" } },
  timeScale: { timeVisible: true, secondsVisible: true },
  autoSize: true,
});
const candles = chart.addCandlestickSeries({ priceLineVisible: true });
const volume = chart.addHistogramSeries({ priceFormat: { type: "volume" }, priceScaleId: "volume" });
chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });

// Exact decimals arrive as JSON numbers; the chart needs floats.
const bar = (c) => ({ time: c.t / 1000, open: +c.open, high: +c.high, low: +c.low, close: +c.close });
const volumeBar = (c) => ({
  time: c.t / 1000,
  value: +c.volume,
  color: +c.close >= +c.open ? "rgba(38,166,154,0.5)" : "rgba(239,83,80,0.5)",
});

let socket = null;
let shown = { symbol: null, interval: null };
let lastBar = 0;
// Whether a quote came over the socket since the symbol was chosen (newer than any REST answer).
let liveQuote = false;

// For scripts driving the page (the tests, over the DevTools protocol) and embedders: the bars
// shown, and promises of the first load and of the next candle update.
let loaded;
const barWaiters = [];
window.tickd = {
  ready: new Promise((resolve) => (loaded = resolve)),
  bars: () => candles.data().map((b) => ({ ...b })),
  volumes: () => volume.data().map((b) => ({ time: b.time, value: b.value })),
  nextBar: () => new Promise((resolve) => barWaiters.push(resolve)),
};

async function getJson(path) {
  const r = await fetch(withToken(path));
  if (!r.ok) throw new Error(path + ": " + r.status + " " + (await r.text()));
  return r.json();
}

function setStatus(text) {
  $("status").textContent = text;
}

function addTrade(d) {
  const row = document.createElement("tr");
  row.className = "trade " + (d.side || "");
  const time = new Date(d.t).toISOString().slice(11, 23);
  row.innerHTML = `<td class="dim">${time}</td><td>${d.price}</td><td>${d.size}</td>`;
  $("trades").prepend(row);
  while ($("trades").rows.length > MAX_TRADES) $("trades").deleteRow(-1);
}

function setQuote(d) {
  $("bid").textContent = d.bid ?? "–";
  $("bid_size").textContent = d.bid_size ?? "–";
  $("ask").textContent = d.ask ?? "–";
  $("ask_size").textContent = d.ask_size ?? "–";
}

function setCandle(c) {
  const time = c.t / 1000;
  // The chart takes updates to the last bar or a newer one; an older correction reloads.
  if (time < lastBar) return load();
  lastBar = time;
  candles.update(bar(c));
  volume.update(volumeBar(c));
  for (const resolve of barWaiters.splice(0)) resolve(bar(c));
}

async function load() {
  const symbol = $("symbol").value;
  const interval = $("interval").value;
  if (!symbol) return;
  shown = { symbol, interval };
  $("title").textContent = `${symbol} · ${interval}`;
  $("trades").replaceChildren();
  liveQuote = false;
  setQuote({});
  if (socket) socket.close();
  const url = new URL(withToken("/ws"), location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(url);
  const mine = socket;
  socket.onopen = async () => {
    // Subscribe first, then load the history: an update that races the load is applied after.
    mine.send(JSON.stringify({
      type: "subscribe",
      data: { symbols: [symbol], channels: ["trades", "quotes", "candles:" + interval] },
    }));
    const history = await getJson(`/candles?symbol=${encodeURIComponent(symbol)}&interval=${interval}&limit=1000`);
    // The quote now, unless the socket already brought a newer one.
    const latest = await getJson(`/price/latest?symbol=${encodeURIComponent(symbol)}`);
    if (!liveQuote) setQuote(latest);
    candles.setData(history.candles.map(bar));
    volume.setData(history.candles.map(volumeBar));
    lastBar = history.candles.length ? history.candles[history.candles.length - 1].t / 1000 : 0;
    chart.timeScale().fitContent();
    setStatus("live");
    loaded({ symbol, interval, bars: history.candles.length });
  };
  socket.onmessage = (e) => {
    if (mine !== socket) return;
    const m = JSON.parse(e.data);
    if (m.type === "trade") addTrade(m.data);
    else if (m.type === "quote_update") {
      liveQuote = true;
      setQuote(m.data);
    }
    else if (m.type === "candle" && m.data.interval === shown.interval) setCandle(m.data);
    else if (m.type === "error") setStatus("error: " + m.message);
  };
  socket.onclose = (e) => {
    if (mine === socket) setStatus("disconnected" + (e.reason ? ": " + e.reason : ""));
  };
}

async function refreshState() {
  try {
    const h = await getJson("/health");
    const feeds = Object.entries(h.feeds || {})
      .map(([name, f]) => `${name}: ${f.live ? f.live.state : f.state}`)
      .join(", ");
    const rows = [
      ["status", h.status + (h.reason ? " (" + h.reason + ")" : "")],
      ["epoch", h.epoch],
      ["head seq", h.head_seq],
      ["feeds", feeds || "none"],
      ["connections", h.connections],
      ["version", h.version],
    ];
    $("state").innerHTML = rows.map(([k, v]) => `<tr><td>${k}</td><td id="state-${k.replace(" ", "_")}">${v}</td></tr>`).join("");
  } catch (e) {
    setStatus(String(e));
  }
}

async function start() {
  const list = await getJson("/symbols?limit=4096");
  for (const s of list.symbols) {
    const o = document.createElement("option");
    o.textContent = s.symbol;
    $("symbol").append(o);
  }
  const wanted = params.get("symbol");
  if (wanted) $("symbol").value = wanted;
  if (params.get("interval")) $("interval").value = params.get("interval");
  $("symbol").onchange = load;
  $("interval").onchange = load;
  await refreshState();
  setInterval(refreshState, 2000);
  await load();
}

start().catch((e) => setStatus(String(e)));
