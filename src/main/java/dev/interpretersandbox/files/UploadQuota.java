package dev.interpretersandbox.files;

/**
 * The room one upload writes into: each write takes from it first, and the upload's end says
 * whether what it took stays in the workspace. The uploads of one sandbox share their room (see
 * the sandbox), so that several at once cannot each be given the same free space.
 */
public interface UploadQuota {

    /** Takes bytes for a write; false, taking nothing, when they do not fit. */
    boolean take(long bytes);

    /** The upload ended: what it took is kept in the workspace (a commit) or freed. */
    void end(boolean kept);

    /** A room of its own, of at most maxBytes. */
    static UploadQuota upTo(long maxBytes) {
        return new UploadQuota() {
            private long taken;

            @Override
            public synchronized boolean take(long bytes) {
                if (taken + bytes > maxBytes) {
                    return false;
                }
                taken += bytes;
                return true;
            }

            @Override
            public void end(boolean kept) {}
        };
    }
}
