// AudioWorklet: microphone (Float32 at the AudioContext's rate) -> PCM16 LE mono at the
// session's input rate, posted to the page in fixed chunks (20 ms by default) with their RMS.
// Resampling averages the input samples that fall into each output sample (a box filter, enough
// against aliasing for speech going from 44.1/48 kHz down to 16 kHz).

class PcmCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate = 16000, chunkMs = 20 } = options.processorOptions || {};
    this.step = sampleRate / targetRate; // input samples per output sample
    this.chunk = new Int16Array(Math.round((targetRate * chunkMs) / 1000));
    this.filled = 0;
    this.sum = 0; // sum and count of the input samples of the output sample in progress
    this.count = 0;
    this.phase = 0; // input samples still to take for the output sample in progress
    this.squares = 0; // of the chunk, for its RMS
    this.port.onmessage = (event) => {
      if (event.data === "flush") this.flush(true);
    };
  }

  emit(value) {
    const clipped = Math.max(-1, Math.min(1, value));
    this.chunk[this.filled++] = clipped < 0 ? clipped * 0x8000 : clipped * 0x7fff;
    this.squares += clipped * clipped;
    if (this.filled === this.chunk.length) this.flush();
  }

  // `requested`: the page asked (before a commit); it waits for this message, even empty.
  flush(requested = false) {
    if (this.filled === 0) {
      if (requested) this.port.postMessage({ pcm: null, rms: 0, flushed: true });
      return;
    }
    const pcm = this.chunk.slice(0, this.filled);
    const rms = Math.sqrt(this.squares / this.filled);
    this.filled = 0;
    this.squares = 0;
    this.port.postMessage({ pcm: pcm.buffer, rms, flushed: requested }, [pcm.buffer]);
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      this.sum += channel[i];
      this.count++;
      this.phase -= 1;
      if (this.phase <= 0) {
        this.emit(this.sum / this.count);
        this.sum = 0;
        this.count = 0;
        this.phase += this.step;
      }
    }
    return true;
  }
}

registerProcessor("pcm-capture", PcmCapture);
