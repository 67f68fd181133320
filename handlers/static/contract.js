"use strict";
// generated from asyncapi.yaml by codegen — do not edit
// The contract's types (components.schemas) and MetaHumanClient, a thin typed wrapper over a
// socket.io-client Socket. A script: its declarations are globals of the page.
/** One connection as a Sender or a Receiver (the handshake's role), typed by the contract. */
class MetaHumanClient {
    constructor(socket) {
        this.socket = socket;
    }
    /** Connect with a handshake; `url` defaults to the page's origin. */
    static connect(handshake, options = {}, url) {
        const settings = { path: "/socketio", ...options, auth: handshake };
        return new MetaHumanClient(url === undefined ? io(settings) : io(url, settings));
    }
    get connected() {
        return this.socket.connected;
    }
    /** Emit a client event with its payload (none for `void` events). */
    emit(event, ...payload) {
        this.socket.emit(event, ...payload);
    }
    /** `session.update` (sender): A client emits the event to update the session. */
    sessionUpdate(payload) {
        this.emit("session.update", payload);
    }
    /** `input.buffer.append` (sender): Sender sends audio chunks to the Server. */
    inputBufferAppend(payload) {
        this.emit("input.buffer.append", payload);
    }
    /**
     * `input.buffer.commit` (sender): The Sender signalize the process of streaming audio is
     * completed.
     */
    inputBufferCommit() {
        this.emit("input.buffer.commit");
    }
    /** `response.cancel` (sender): The Sender stops the response in flight (or the one still playing). */
    responseCancel(payload) {
        this.emit("response.cancel", payload);
    }
    /** `response.audio.played` (receivers): A Receiver says how much of a response the avatar played. */
    responseAudioPlayed(payload) {
        this.emit("response.audio.played", payload);
    }
    /** `conversation.clear` (sender): The Sender starts the conversation afresh. */
    conversationClear() {
        this.emit("conversation.clear");
    }
    /** Listen to a server event (or connect, disconnect, connect_error). */
    on(event, listener) {
        this.socket.on(event, listener);
        return this;
    }
    disconnect() {
        this.socket.disconnect();
    }
}
