// MetaHuman AI Chat: one page, two Socket.IO clients of one session (see asyncapi.yaml).
//
// Receiver (auth {role: "receiver", sessionId}) gets
//   response.text          -> the reply, shown
//   response.audio.delta   -> pcm16 (24 kHz) played gaplessly through a small jitter buffer;
//                             `visemes: [{offsetMs, id}]` (when a delta has them) drive the mouth
//   response.cancelled     -> the reply stops at once (barge-in, response.cancel): its scheduled
//                             audio is stopped, later deltas of it dropped
//   custom.error           -> shown
// and sends response.audio.played {responseId, playedMs} when a reply ends or is stopped, with
// what the AudioContext's clock says was played (not what was received).
// Sender (auth {role: "sender", sessionId}) sends
//   session.update         -> settings from /catalog.json (and turnDetection for server VAD)
//   input.buffer.append    -> binary PCM16 LE mono at inputAudio.sampleRate, 20 ms chunks
//   input.buffer.commit    -> push-to-talk release, or ~700 ms of silence (hands-free, page VAD)
//   response.cancel        -> the stop control (button, Escape): the reply playing stops at once
// and gets session.updated, input.buffer.initialized, request.transcribe.done (the transcript),
// custom.error and, with server VAD, input.speech.started/stopped and input.buffer.committed.
//
// The sockets are MetaHumanClient (contract.js, compiled from the contract's generated
// contract.ts): typed methods per client event, listeners per server event.
//
// URL parameters: sessionId, token (better in the fragment, #token=..., which never reaches a
// server's logs), autostart=1 (kiosk: connect and listen hands-free on load),
// vad=server (hands-free turns detected by the server), threshold (page VAD level, RMS 0..1).
"use strict";

const params = new URLSearchParams(location.search);
const CHUNK_MS = 20;
const JITTER_S = 0.12; // playback starts this far ahead after an underrun, to absorb jitter
const SILENCE_COMMIT_MS = 700; // page VAD: this much silence ends the utterance
const PREROLL_MS = 300; // page VAD: audio kept from before the speech started
const SPEECH_RMS = Number(params.get("threshold")) || 0.015;

const $ = (id) => document.getElementById(id);
const randomId = () => "page-" + Math.random().toString(36).slice(2, 10);

// What the page did, for people (the stats line) and for tests (window.metahumanPage).
const page = (window.metahumanPage = {
  sessionId: params.get("sessionId") || randomId(),
  autostart: params.get("autostart") === "1",
  connected: { sender: false, receiver: false },
  refused: { sender: null, receiver: null }, // connect_error's data.code
  chunksSent: 0,
  commits: 0,
  transcripts: [],
  replies: [],
  errors: [],
  deltas: 0,
  scheduledSeconds: 0,
  underruns: 0, // deltas after a response's first that came after the audio before them ended
  visemesScheduled: 0,
  cancelled: [], // response.cancelled payloads the Receiver got (barge-in, response.cancel)
  cancelsSent: [], // response.cancel sent by the stop control: the responseId named, or null
  dropped: 0, // deltas of a stopped response that came after it was stopped (not played)
  played: [], // response.audio.played sent: {responseId, playedMs}
  sessionUpdated: null,
});

// ---------------------------------------------------------------------------------------------
// Log

function log(kind, label, text) {
  const item = document.createElement("li");
  item.className = kind;
  const tag = document.createElement("b");
  tag.textContent = label;
  item.append(tag, document.createTextNode(text));
  $("log").append(item);
  item.scrollIntoView({ block: "nearest" });
}

function showStats() {
  $("stats").textContent =
    `${page.chunksSent} chunks sent, ${page.commits} commits; ` +
    `${page.deltas} audio deltas, ${page.scheduledSeconds.toFixed(2)} s of audio scheduled, ` +
    `${page.underruns} underruns`;
}

function showError(role, error) {
  page.errors.push({ role, ...error });
  const where = [error.stage, error.provider].filter(Boolean).join("/");
  log("error", `${role} error ${error.code}${where ? " (" + where + ")" : ""}:`, error.message || "");
}

// ---------------------------------------------------------------------------------------------
// Receiver: gapless playback, stopped at once on response.cancelled, and the mouth

const VISEME_MOUTH = {
  // id: [opening 0..1, width 0..1]
  sil: [0, 0.5], PP: [0, 0.42], FF: [0.12, 0.55], TH: [0.22, 0.55], DD: [0.32, 0.55],
  kk: [0.38, 0.55], CH: [0.3, 0.42], SS: [0.18, 0.62], nn: [0.28, 0.55], RR: [0.3, 0.42],
  aa: [0.9, 0.6], E: [0.55, 0.7], I: [0.42, 0.66], O: [0.7, 0.38], U: [0.48, 0.3],
};

// How much of a response the avatar played, in ms, at context time `now`: each of its buffers
// counts from its scheduled start to now (or its end), so gaps between deltas (underruns) and
// audio received but not yet reached do not count. Rounded down: never more than was played.
function playedMs(response, now) {
  let seconds = 0;
  for (const { startAt, duration, ended } of response.buffers) {
    seconds += ended ? duration : Math.min(duration, Math.max(0, now - startAt));
  }
  return Math.floor(seconds * 1000 + 1e-6);
}

const RESPONSES_KEPT = 16; // responses remembered, to drop late deltas of a stopped one

class Player {
  constructor(onPlayed) {
    this.ctx = null;
    this.nextStart = 0; // context time where the next delta starts
    this.visemes = []; // [{at (context time), id}] in time order
    // responseId -> {id, state: playing | ended | stopped, buffers: [{source, startAt,
    // duration, ended}], final, playedMs}; in arrival order.
    this.responses = new Map();
    this.onPlayed = onPlayed; // (responseId, playedMs): played to its end
  }

  context() {
    if (!this.ctx) {
      this.ctx = new AudioContext();
      this.analyser = this.ctx.createAnalyser();
      this.analyser.fftSize = 512;
      this.analyser.connect(this.ctx.destination);
      this.levels = new Float32Array(this.analyser.fftSize);
    }
    return this.ctx;
  }

  playing() {
    return this.ctx !== null && this.nextStart > this.ctx.currentTime;
  }

  // The response whose deltas are being played (the latest not yet ended or stopped), or null.
  current() {
    let latest = null;
    for (const response of this.responses.values()) {
      if (response.state === "playing") latest = response.id;
    }
    return latest;
  }

  track(responseId) {
    let response = this.responses.get(responseId);
    if (!response) {
      response = { id: responseId, state: "playing", buffers: [], final: false, playedMs: 0 };
      this.responses.set(responseId, response);
      for (const [id, old] of this.responses) {
        if (this.responses.size <= RESPONSES_KEPT) break;
        if (old.state !== "playing") this.responses.delete(id);
      }
    }
    return response;
  }

  enqueue(delta) {
    const response = this.track(delta.responseId);
    if (response.state !== "playing") {
      page.dropped++; // a delta of a response already stopped (or over): never played
      return;
    }
    if (delta.final) response.final = true;
    if (delta.format !== "pcm16") {
      log("note", "receiver:", `cannot play ${delta.format} deltas; the page asks for pcm16`);
      this.endIfPlayed(response); // what it could not play was not heard
      return;
    }
    const audio = delta.audio; // an ArrayBuffer from socket.io-client; a view from elsewhere
    const start = ArrayBuffer.isView(audio) ? audio.byteOffset : 0;
    const bytes = ArrayBuffer.isView(audio) ? audio.buffer : audio;
    const length = (ArrayBuffer.isView(audio) ? audio.byteLength : bytes.byteLength) & ~1;
    const samples = new Int16Array(bytes.slice(start, start + length));
    if (samples.length === 0) {
      this.endIfPlayed(response); // a final delta may be empty
      return;
    }
    const ctx = this.context();
    const buffer = ctx.createBuffer(1, samples.length, delta.sampleRate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(this.analyser);
    // Back to back while the previous delta still plays; after an underrun, a cushion first.
    if (this.nextStart < ctx.currentTime + 0.01) {
      if (delta.sequence > 0) page.underruns++;
      this.nextStart = ctx.currentTime + JITTER_S;
    }
    const scheduled = { source, startAt: this.nextStart, duration: buffer.duration, ended: false };
    response.buffers.push(scheduled);
    source.onended = () => {
      scheduled.ended = response.state === "playing"; // a stopped buffer did not play to its end
      this.endIfPlayed(response);
    };
    source.start(this.nextStart);
    for (const { offsetMs, id } of delta.visemes || []) {
      this.visemes.push({ at: this.nextStart + offsetMs / 1000, id });
      page.visemesScheduled++;
    }
    this.nextStart += buffer.duration;
    page.scheduledSeconds += buffer.duration;
  }

  // Once the final delta is in and every buffer has played out: the whole length, reported.
  endIfPlayed(response) {
    if (response.state !== "playing" || !response.final) return;
    if (!response.buffers.every((b) => b.ended)) return;
    response.state = "ended";
    response.playedMs = playedMs(response, this.ctx ? this.ctx.currentTime : 0);
    this.onPlayed(response.id, response.playedMs);
  }

  // Stop a response now (the stop control, response.cancelled): its scheduled buffers are
  // stopped, later deltas of it dropped. Returns how much of it was played, by the context's
  // clock; for one already stopped or ended, what it played then; for one never heard of, 0.
  stop(responseId) {
    const response = this.track(responseId);
    if (response.state !== "playing") return response.playedMs;
    const now = this.ctx ? this.ctx.currentTime : 0;
    response.playedMs = playedMs(response, now); // before stop(): its onended marks nothing
    response.state = "stopped";
    for (const { source, ended } of response.buffers) if (!ended) source.stop();
    // Later responses' buffers are not touched; this one's tail no longer holds the timeline.
    if (this.current() === null) this.nextStart = Math.min(this.nextStart, now);
    this.visemes = this.visemes.filter((mark) => mark.at <= now);
    return response.playedMs;
  }

  // [opening, width] of the mouth now: the current viseme if any, else the audio level.
  mouth() {
    if (!this.ctx) return [0, 0.5];
    const now = this.ctx.currentTime;
    while (this.visemes.length > 1 && this.visemes[1].at <= now) this.visemes.shift();
    if (this.visemes.length && this.visemes[0].at <= now && this.playing()) {
      return VISEME_MOUTH[this.visemes[0].id] || VISEME_MOUTH.sil;
    }
    this.analyser.getFloatTimeDomainData(this.levels);
    let squares = 0;
    for (const v of this.levels) squares += v * v;
    const rms = Math.sqrt(squares / this.levels.length);
    return [Math.min(1, rms * 6), 0.55];
  }
}

const player = new Player((responseId, ms) => reportPlayed(responseId, ms));
let opening = 0;

// response.audio.played: how much of a response the avatar played (by the audio clock). Sent
// when it plays to its end, when it is stopped, and again on its response.cancelled: the server
// cuts the history by its own estimate when it cancels, and the page's figure should be the
// last word (the contract lets a Receiver report more than once).
function reportPlayed(responseId, playedMs) {
  if (typeof responseId !== "string" || !receiver || !receiver.connected) return;
  page.played.push({ responseId, playedMs });
  receiver.responseAudioPlayed({ responseId, playedMs });
}

// The stop control: response.cancel for the response playing (the one in flight when none
// plays yet). The avatar stops at once, without waiting for the server's response.cancelled.
function stopReply() {
  if (!sender || !sender.connected) return;
  const responseId = player.current();
  sender.responseCancel(responseId === null ? {} : { responseId });
  page.cancelsSent.push(responseId);
  log("note", "sender:", "stop (response.cancel)");
  if (responseId !== null) reportPlayed(responseId, player.stop(responseId));
}

function animateMouth() {
  const [target, width] = player.mouth();
  opening += (target - opening) * 0.5; // smoothed, so the mouth does not flicker
  const mouth = $("mouth");
  mouth.setAttribute("ry", (2 + opening * 26).toFixed(1));
  mouth.setAttribute("rx", (16 + width * 30).toFixed(1));
  requestAnimationFrame(animateMouth);
}

// ---------------------------------------------------------------------------------------------
// Sockets

function connect(role, socketioPath) {
  const auth = { role, sessionId: page.sessionId };
  const token = new URLSearchParams(location.hash.slice(1)).get("token") || params.get("token");
  if (token) auth.token = token;
  const socket = MetaHumanClient.connect(auth, { path: socketioPath, transports: ["websocket"] });
  const state = $(`${role}-state`);
  socket.on("connect", () => {
    page.connected[role] = true;
    state.textContent = `${role}: connected`;
    state.classList.add("up");
  });
  socket.on("disconnect", (reason) => {
    page.connected[role] = false;
    state.textContent = `${role}: ${reason}`;
    state.classList.remove("up");
  });
  socket.on("connect_error", (error) => {
    page.refused[role] = (error.data && error.data.code) || error.message;
    const code = error.data && error.data.code ? ` (${error.data.code})` : "";
    state.textContent = `${role}: refused${code}`;
    log("error", `${role}:`, `connection refused${code}: ${error.message}`);
  });
  socket.on("custom.error", (error) => showError(role, error));
  return socket;
}

// ---------------------------------------------------------------------------------------------
// Settings from the contract's catalog

let catalog = null;

function fill(select, values, selected) {
  select.replaceChildren(...values.map((v) => new Option(v, v, false, v === selected)));
}

function showProvider(stage, provider, model, voice) {
  const entry = catalog[stage][provider];
  fill($(`${stage}-model`), entry.models, model || entry.defaultModel);
  if (stage === "tts") {
    $("tts-voices").replaceChildren(...(entry.voices || []).map((v) => new Option(v)));
    $("tts-voice").value = voice || entry.defaultVoice || "";
  }
}

function setUpSettings() {
  for (const stage of ["stt", "llm", "tts"]) {
    const providers = Object.keys(catalog[stage]);
    fill($(`${stage}-provider`), providers, providers[0]);
    $(`${stage}-provider`).addEventListener("change", (e) => showProvider(stage, e.target.value));
    showProvider(stage, providers[0]);
  }
  fill($("tts-response-type"), catalog.responseTypes, catalog.defaultResponseType);
}

function showSessionUpdated(session) {
  page.sessionUpdated = session;
  $("session-updated").textContent = JSON.stringify(session, null, 2);
  for (const stage of ["stt", "llm", "tts"]) {
    const { provider, model, voice } = session[stage];
    $(`${stage}-provider`).value = provider;
    showProvider(stage, provider, model, voice);
  }
  $("tts-response-type").value = session.tts.responseType;
}

function settingsUpdate() {
  const update = {
    stt: { provider: $("stt-provider").value, model: $("stt-model").value },
    llm: { provider: $("llm-provider").value, model: $("llm-model").value },
    tts: {
      provider: $("tts-provider").value,
      model: $("tts-model").value,
      responseType: $("tts-response-type").value,
    },
  };
  if ($("tts-voice").value) update.tts.voice = $("tts-voice").value;
  return update;
}

// Every update asks for pcm16 out (the only format the Player plays) and, for server VAD,
// turn detection by the server. (Leaving server VAD does not tell the server yet: the contract
// will say how turn detection is switched off.)
function sessionUpdate(fields) {
  const update = { ...fields, outputAudio: { format: "pcm16" } };
  if (turns.mode === "server_vad") update.turnDetection = { type: "server_vad" };
  sender.sessionUpdate(update);
}

// ---------------------------------------------------------------------------------------------
// Sender: microphone -> AudioWorklet -> 20 ms PCM16 chunks; turns

class Microphone {
  constructor(onChunk) {
    this.onChunk = onChunk;
    this.node = null;
    this.opening = null; // the first start's promise: later starts wait for the same one
    this.flushed = null;
  }

  start(targetRate) {
    this.opening ||= this.open(targetRate).catch((error) => {
      this.opening = null; // refused (no device, no permission): the next start asks again
      throw error;
    });
    return this.opening;
  }

  async open(targetRate) {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    this.ctx = new AudioContext();
    await this.ctx.audioWorklet.addModule("static/capture-worklet.js");
    // No outputs: a sink node, which Chromium renders without connecting it to the speakers.
    this.node = new AudioWorkletNode(this.ctx, "pcm-capture", {
      numberOfOutputs: 0,
      processorOptions: { targetRate, chunkMs: CHUNK_MS },
    });
    this.node.port.onmessage = ({ data }) => {
      if (data.pcm) this.onChunk(data.pcm, data.rms);
      if (data.flushed && this.flushed) this.flushed();
    };
    this.ctx.createMediaStreamSource(stream).connect(this.node);
    if (this.ctx.state === "suspended") await this.ctx.resume();
  }

  // Resolves once the partial chunk in the worklet has been handed to onChunk.
  flush() {
    return new Promise((resolve) => {
      this.flushed = () => {
        this.flushed = null;
        resolve();
      };
      this.node.port.postMessage("flush");
    });
  }
}

const turns = {
  mode: "ptt", // ptt | local | server_vad
  listening: false, // hands-free: the mic is on
  pressed: false, // push-to-talk: the button or space bar is down
  talking: false, // an utterance is open (its chunks are sent)
  ending: false,
  preroll: [],
  silentMs: 0,
  loudChunks: 0,
};

function setTurnState(text) {
  $("turn-state").textContent = text;
}

function send(pcm) {
  if (!sender.connected) return; // not buffered for later: stale audio is no use to a turn
  sender.inputBufferAppend(pcm); // an ArrayBuffer: a binary attachment
  page.chunksSent++;
}

function beginUtterance() {
  turns.talking = true;
  turns.silentMs = 0;
  for (const pcm of turns.preroll) send(pcm);
  turns.preroll = [];
  setTurnState("speaking…");
}

async function endUtterance() {
  if (!turns.talking || turns.ending) return;
  turns.ending = true;
  await microphone.flush(); // the last partial chunk goes out before the commit
  turns.talking = false;
  turns.ending = false;
  if (!sender.connected) return;
  sender.inputBufferCommit();
  page.commits++;
  setTurnState("committed, waiting for the reply");
  showStats();
}

// Each 20 ms chunk from the worklet.
function onChunk(pcm, rms) {
  $("mic-level").value = rms;
  if (turns.mode === "server_vad") {
    if (turns.listening) send(pcm); // the server finds the turns
  } else if (turns.mode === "ptt") {
    if (turns.talking) send(pcm);
  } else if (turns.listening) {
    pageVad(pcm, rms);
  }
}

// Hands-free with the page's own detector: RMS above SPEECH_RMS for two chunks opens an
// utterance (with PREROLL_MS before it); SILENCE_COMMIT_MS below it commits. While the reply
// plays the page does not open one, so it does not answer itself through the speakers.
function pageVad(pcm, rms) {
  const loud = rms >= SPEECH_RMS;
  if (turns.talking) {
    send(pcm);
    turns.silentMs = loud ? 0 : turns.silentMs + CHUNK_MS;
    if (turns.silentMs >= SILENCE_COMMIT_MS) endUtterance();
    return;
  }
  turns.preroll.push(pcm);
  if (turns.preroll.length > PREROLL_MS / CHUNK_MS) turns.preroll.shift();
  turns.loudChunks = loud && !player.playing() ? turns.loudChunks + 1 : 0;
  if (turns.loudChunks >= 2) beginUtterance();
}

// True once the microphone runs; false (and said on the page) when it cannot.
async function startMicrophone() {
  const rate = (page.sessionUpdated && page.sessionUpdated.inputAudio.sampleRate) || 16000;
  try {
    await microphone.start(rate);
    return true;
  } catch (error) {
    log("error", "microphone:", String(error));
    return false;
  }
}

async function startListening() {
  if (!(await startMicrophone())) return;
  turns.listening = true;
  $("listen").classList.add("active");
  $("listen").textContent = "Listening (click to stop)";
  setTurnState(turns.mode === "server_vad" ? "listening (server VAD)" : "listening");
}

function stopListening() {
  turns.listening = false;
  $("listen").classList.remove("active");
  $("listen").textContent = "Start listening";
  if (turns.talking) endUtterance();
  setTurnState("idle");
}

function setMode(mode) {
  if (turns.listening) stopListening();
  turns.mode = mode;
  $("turn-mode").value = mode;
  $("talk").hidden = mode !== "ptt";
  $("listen").hidden = mode === "ptt";
  if (sender && sender.connected) sessionUpdate({});
}

async function pressTalk() {
  if (turns.mode !== "ptt" || turns.pressed) return;
  turns.pressed = true;
  $("talk").classList.add("active");
  unlockAudio();
  // The first press opens the microphone; a release before it is open is a press of nothing.
  if ((await startMicrophone()) && turns.pressed) beginUtterance();
}

function releaseTalk() {
  if (!turns.pressed) return;
  turns.pressed = false;
  $("talk").classList.remove("active");
  endUtterance();
}

function setUpControls() {
  $("turn-mode").addEventListener("change", (e) => setMode(e.target.value));
  $("talk").addEventListener("pointerdown", pressTalk);
  for (const event of ["pointerup", "pointerleave", "pointercancel"]) {
    $("talk").addEventListener(event, releaseTalk);
  }
  const typing = (e) => e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement;
  document.addEventListener("keydown", (e) => {
    if (e.code === "Space" && !e.repeat && !typing(e)) {
      e.preventDefault();
      pressTalk();
    }
  });
  document.addEventListener("keydown", (e) => {
    if (e.code === "Escape") stopReply();
  });
  document.addEventListener("keyup", (e) => {
    if (e.code === "Space" && !typing(e)) {
      e.preventDefault(); // not also a click on the focused button
      releaseTalk();
    }
  });
  $("stop").addEventListener("click", stopReply);
  $("listen").addEventListener("click", () => {
    unlockAudio();
    turns.listening ? stopListening() : startListening();
  });
  $("settings-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionUpdate(settingsUpdate());
  });
}

// Browsers start an AudioContext suspended until a user gesture unless the page may autoplay
// (kiosk browsers: Chromium's --autoplay-policy=no-user-gesture-required).
function unlockAudio() {
  const ctx = player.context();
  if (ctx.state === "suspended") ctx.resume();
  if (microphone.ctx && microphone.ctx.state === "suspended") microphone.ctx.resume();
  $("unlock").hidden = true;
}

// ---------------------------------------------------------------------------------------------
// Start

const microphone = new Microphone(onChunk);
let sender = null;
let receiver = null;

async function main() {
  $("session").textContent = `session ${page.sessionId}`;
  const [config, contractCatalog] = await Promise.all([
    fetch("page-config.json").then((r) => r.json()),
    fetch("catalog.json").then((r) => r.json()),
  ]);
  catalog = contractCatalog;
  setUpSettings();
  setUpControls();

  // The Receiver first, so it is there when the Sender's first reply goes out.
  receiver = connect("receiver", config.socketioPath);
  receiver.on("response.text", ({ text }) => {
    page.replies.push(text);
    log("reply", "Reply:", text);
  });
  receiver.on("response.audio.delta", (delta) => {
    page.deltas++;
    player.enqueue(delta); // reports response.audio.played once the final delta has played
    showStats();
  });
  // Barge-in or response.cancel: the avatar stops at once and says how much it played.
  receiver.on("response.cancelled", (cancelled) => {
    page.cancelled.push(cancelled);
    log("note", "receiver:", `reply stopped (${cancelled.reason})`);
    reportPlayed(cancelled.responseId, player.stop(cancelled.responseId));
  });

  sender = connect("sender", config.socketioPath);
  sender.on("connect", () => sessionUpdate({}));
  sender.on("session.updated", showSessionUpdated);
  sender.on("input.buffer.initialized", () => setTurnState("the server is listening…"));
  sender.on("request.transcribe.done", ({ text }) => {
    page.transcripts.push(text);
    log("you", "You said:", text || "(nothing recognised)");
    setTurnState(turns.listening ? "listening" : "idle");
  });
  // Server VAD (turnDetection server_vad): the server finds and commits the turns.
  sender.on("input.speech.started", () => setTurnState("speaking… (server VAD)"));
  sender.on("input.speech.stopped", () => setTurnState("speech stopped (server VAD)"));
  sender.on("input.buffer.committed", () => {
    if (turns.mode !== "server_vad") return; // the page's own commits are counted when sent
    page.commits++;
    setTurnState("committed by the server, waiting for the reply");
  });

  const mode = params.get("vad") === "server" ? "server_vad" : page.autostart ? "local" : "ptt";
  setMode(mode);
  requestAnimationFrame(animateMouth);
  showStats();

  if (page.autostart) {
    document.body.classList.add("kiosk");
    player.context();
    if (player.ctx.state === "suspended") {
      $("unlock").hidden = false; // no autoplay: one tap, then hands-free from there
      $("unlock").addEventListener("click", () => {
        unlockAudio();
        startListening();
      });
    } else {
      await startListening();
    }
  }
}

main().catch((error) => log("error", "page:", String(error)));
