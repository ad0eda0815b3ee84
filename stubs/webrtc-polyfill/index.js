// spritzle is TCP-only: WebRTC is absent on purpose (see pnpm-workspace.yaml).
export const RTCPeerConnection = undefined; export const RTCSessionDescription = undefined;
export const RTCIceCandidate = undefined; export default { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate };
