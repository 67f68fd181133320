// Opens the page in headless Chromium with a fake microphone fed from a WAV, waits until the
// page shows a transcript and has scheduled audio, takes a screenshot, and prints what the page
// recorded (window.metahumanPage) as one JSON line on stdout. Used by test_page.py.
//
//   node drive_page.mjs --url URL --wav FILE --screenshot FILE --chromium PATH
//                       [--push-to-talk MS] [--response-type TYPE] [--timeout-ms MS]
//   node drive_page.mjs --url URL --screenshot FILE --visemes   (no microphone: a made-up
//       silent delta with visemes; prints the mouth's opening sampled during each viseme)
//   node drive_page.mjs --url URL --screenshot FILE --load-only   (what the page shows once both
//       sockets are connected or refused; with --empty-commit, once the Sender committed
//       nothing and the page shows the custom.error it got)
//   ... --wav FILE --stop-after-ms MS   (a turn; once MS of the reply have played, a click on
//       the page's stop control and a late delta of that response handed to the page's
//       Receiver; then what the page recorded once the server's response.cancelled is in and
//       1 s more has passed)
//   ... --wav FILE --until-played   (a turn; what the page recorded once it says it played
//       the reply to its end, response.audio.played)
//   ... --wav FILE --barge-in   (two turns, the second spoken over the first reply: each
//       response.cancelled the page gets is timed and followed by a late delta of the stopped
//       response handed to the page's Receiver; what the page recorded once the second reply
//       has started to play, and 0.5 s more)
//   ... --no-loop   (the fake microphone plays the WAV once, then silence: Chromium's %noloop)
//
// The output also carries `webAudio`: every AudioBufferSourceNode start() and stop() the page
// made, in order ({op, node, at: context time of the call, when, duration}), recorded by
// wrapping the Web Audio API before the page loads (with --barge-in each start also names the
// response whose delta it plays, `response`); with --stop-after-ms, `stopClick`: {before,
// after}, the context time just before the click and just after it was handled; with
// --barge-in, `cancelsSeen`: [{responseId, before, after}], the same around the page's
// handling of each response.cancelled.
import { chromium } from "playwright-core";
import { parseArgs } from "node:util";

let mouthMaxRy = 0; // the widest the mouth opened during the reply (talk())

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    wav: { type: "string" },
    screenshot: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
    "push-to-talk": { type: "string" },
    "response-type": { type: "string" },
    visemes: { type: "boolean", default: false },
    "load-only": { type: "boolean", default: false },
    "empty-commit": { type: "boolean", default: false },
    "stop-after-ms": { type: "string" },
    "until-played": { type: "boolean", default: false },
    "barge-in": { type: "boolean", default: false },
    "no-loop": { type: "boolean", default: false },
    "timeout-ms": { type: "string", default: "60000" },
  },
});
const timeout = Number(args["timeout-ms"]);

const browser = await chromium.launch({
  executablePath: args.chromium,
  headless: true,
  args: [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    ...(args.wav
      ? [`--use-file-for-fake-audio-capture=${args.wav}${args["no-loop"] ? "%noloop" : ""}`]
      : []),
    "--autoplay-policy=no-user-gesture-required",
    "--no-sandbox",
  ],
});
const console_ = [];
let result = null;
let stopClick = null;
let cancelsSeen = [];
let webAudio = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript(recordWebAudio);
  const page = await context.newPage();
  page.on("console", (m) => console_.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => console_.push(`pageerror: ${e.message}`));
  page.on("response", (r) => r.status() >= 400 && console_.push(`http ${r.status()}: ${r.url()}`));
  await page.goto(args.url);
  await page.waitForFunction(
    () => {
      const p = window.metahumanPage;
      const settled = (role) => p?.connected[role] || p?.refused[role];
      return settled("sender") && settled("receiver");
    },
    null,
    { timeout },
  );
  if (args.visemes) result = await page.evaluate(sampleVisemeMouth);
  else if (args["load-only"]) {
    if (args["empty-commit"]) {
      await page.evaluate(() => sender.emit("input.buffer.commit")); // the page's Sender socket
      await page.waitForFunction(() => window.metahumanPage.errors.length > 0, null, { timeout });
    }
    result = await pageState(page);
  }
  else if (args["barge-in"]) result = await bargeIn(page);
  else result = await talk(page);
  webAudio = await page.evaluate(() => window.__webAudio);
  await page.screenshot({ path: args.screenshot });
} finally {
  await browser.close();
}
console.log(JSON.stringify({ page: result, console: console_, webAudio, stopClick, cancelsSeen }));

// In the page, before its scripts: log the start() and stop() calls of every buffer source.
function recordWebAudio() {
  const calls = (window.__webAudio = []);
  const { start, stop } = AudioBufferSourceNode.prototype;
  let nodes = 0;
  AudioBufferSourceNode.prototype.start = function (when = 0, ...rest) {
    this.__node = nodes++;
    const at = this.context.currentTime;
    const { duration } = this.buffer;
    calls.push({ op: "start", node: this.__node, at, when, duration, response: window.__enqueuing });
    return start.call(this, when, ...rest);
  };
  AudioBufferSourceNode.prototype.stop = function (...rest) {
    calls.push({ op: "stop", node: this.__node, at: this.context.currentTime });
    return stop.call(this, ...rest);
  };
  // Seconds of the sources started so far that have sounded by context time `now` (each from
  // its start time to `now` or its end), were none of them stopped.
  window.__soundedSeconds = (now) => {
    let seconds = 0;
    for (const call of calls) {
      if (call.op === "start") seconds += Math.min(call.duration, Math.max(0, now - call.when));
    }
    return seconds;
  };
}

// One spoken turn; what the page recorded once it shows the reply and plays it.
async function talk(page) {
  if (args["response-type"]) {
    // Through the settings form: select, Apply (session.update), wait for session.updated.
    await page.selectOption("#tts-response-type", args["response-type"]);
    await page.click("#settings-form button[type=submit]");
    await page.waitForFunction(
      (kind) => window.metahumanPage.sessionUpdated?.tts.responseType === kind,
      args["response-type"],
      { timeout },
    );
  }
  if (args["push-to-talk"]) {
    // Hold the space bar while the fake microphone plays the question, then release: a commit.
    await page.keyboard.down("Space");
    await page.waitForTimeout(Number(args["push-to-talk"]));
    await page.keyboard.up("Space");
  }
  try {
    await page.waitForFunction(
      () => {
        const p = window.metahumanPage;
        return p.transcripts.length > 0 && p.replies.length > 0 && p.scheduledSeconds > 1;
      },
      null,
      { timeout },
    );
    if (args["stop-after-ms"]) return await stopMidReply(page, Number(args["stop-after-ms"]));
    if (args["until-played"]) {
      await page.waitForFunction(() => window.metahumanPage.played.length > 0, null, { timeout });
      return await pageState(page);
    }
    // Into the reply: the widest the mouth opens over 1.5 s of playback (one sample could land
    // between two words on a loaded machine).
    mouthMaxRy = await page.evaluate(async () => {
      let widest = 0;
      for (let i = 0; i < 30; i++) {
        widest = Math.max(widest, Number(document.getElementById("mouth").getAttribute("ry")));
        await new Promise((r) => setTimeout(r, 50));
      }
      return widest;
    });
  } catch (error) {
    console_.push(`wait: ${error.message.split("\n")[0]}`); // the test says what is missing
  }
  return await pageState(page);
}

// Once `ms` of the reply have sounded: a click on the stop control, then wait for the server's
// response.cancelled and 1 s more (a late delta would be scheduled by then, were it not dropped).
async function stopMidReply(page, ms) {
  await page.waitForFunction(
    (ms) => player.ctx && window.__soundedSeconds(player.ctx.currentTime) * 1000 >= ms,
    ms,
    { timeout },
  );
  const now = () => page.evaluate(() => player.ctx.currentTime);
  const before = await now();
  await page.click("#stop");
  stopClick = { before, after: await now() };
  // A delta of the stopped response that crossed the response.cancel on its way (the server
  // sends none after its response.cancelled, but may have sent one before it), handed to the
  // page's Receiver as its socket would: the page must drop it.
  await page.evaluate(() => {
    const late = {
      responseId: window.metahumanPage.cancelsSent[0],
      itemId: "item_0000000000000000",
      sequence: 99,
      format: "pcm16",
      sampleRate: 24000,
      audio: new ArrayBuffer(24000), // 0.5 s of silence
      final: false,
    };
    for (const listener of receiver.socket.listeners("response.audio.delta")) listener(late);
  });
  await page.waitForFunction(() => window.metahumanPage.cancelled.length > 0, null, { timeout });
  await page.waitForTimeout(1000);
  return await pageState(page);
}

// Hands-free turns by server VAD; the WAV's second utterance starts while the first reply
// plays. Each delta's buffers are tagged with its response, and each response.cancelled the
// page gets is timed (the page's own handler runs in between) and followed by a late delta of
// the stopped response, as one that crossed the cancel on its way would come: the page must
// drop it. Returns once the second reply has started to play (and 0.5 s more), or on timeout.
async function bargeIn(page) {
  await page.evaluate(() => {
    window.__cancelsSeen = [];
    const enqueue = player.enqueue.bind(player);
    player.enqueue = (delta) => {
      window.__enqueuing = delta.responseId;
      try {
        return enqueue(delta);
      } finally {
        window.__enqueuing = undefined;
      }
    };
    const socket = receiver.socket;
    const pageListeners = socket.listeners("response.cancelled");
    socket.off("response.cancelled");
    socket.on("response.cancelled", (cancelled) => {
      const now = () => (player.ctx ? player.ctx.currentTime : null);
      const before = now();
      for (const listener of pageListeners) listener(cancelled);
      window.__cancelsSeen.push({ responseId: cancelled.responseId, before, after: now() });
      const late = {
        responseId: cancelled.responseId,
        itemId: cancelled.itemId,
        sequence: cancelled.lastSequence + 1,
        format: "pcm16",
        sampleRate: 24000,
        audio: new ArrayBuffer(24000), // 0.5 s of silence
        final: false,
      };
      for (const listener of socket.listeners("response.audio.delta")) listener(late);
    });
  });
  try {
    await page.waitForFunction(
      () => {
        const p = window.metahumanPage;
        const started = new Set(window.__webAudio.map((call) => call.response).filter(Boolean));
        return p.transcripts.length >= 2 && p.replies.length >= 2 && started.size >= 2;
      },
      null,
      { timeout },
    );
    await page.waitForTimeout(500);
  } catch (error) {
    console_.push(`wait: ${error.message.split("\n")[0]}`); // the test says what is missing
  }
  cancelsSeen = await page.evaluate(() => window.__cancelsSeen);
  return await pageState(page);
}

async function pageState(page) {
  return await page.evaluate((widest) => ({
    ...window.metahumanPage,
    mouthRy: Number(document.getElementById("mouth").getAttribute("ry")),
    mouthMaxRy: widest,
    logText: document.getElementById("log").innerText,
  }), mouthMaxRy);
}

// In the page: play 1.2 s of silence whose visemes are "aa" (0-600 ms) then "PP" (600 ms on),
// and read the mouth's opening (ry) in the middle of each. Silence keeps the level-driven mouth
// shut, so an open mouth can only come from the visemes.
async function sampleVisemeMouth() {
  const rate = 24000;
  const silence = new ArrayBuffer(rate * 1.2 * 2);
  const delta = { format: "pcm16", sampleRate: rate, audio: silence, final: true,
                  visemes: [{ offsetMs: 0, id: "aa" }, { offsetMs: 600, id: "PP" }] };
  player.enqueue(delta); // the page's Player, as a response.audio.delta would reach it
  const start = player.nextStart - 1.2;
  const ryAt = async (t) => {
    while (player.ctx.currentTime < start + t) await new Promise((r) => setTimeout(r, 10));
    return Number(document.getElementById("mouth").getAttribute("ry"));
  };
  const duringAa = await ryAt(0.4);
  const duringPP = await ryAt(1.0);
  return { duringAa, duringPP, visemesScheduled: window.metahumanPage.visemesScheduled };
}
