// Image change events (containerd's /images/create, /images/update,
// /images/delete). Every successful write reports here after it commits.

export type ImageEvent =
  | { topic: "/images/create"; namespace: string; name: string; labels: Record<string, string> }
  | { topic: "/images/update"; namespace: string; name: string; labels: Record<string, string> }
  | { topic: "/images/delete"; namespace: string; name: string };

export type ImageEventSink = (event: ImageEvent) => void;

export const discardEvents: ImageEventSink = () => {};
