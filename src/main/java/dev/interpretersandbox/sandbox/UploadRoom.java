package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.files.UploadQuota;
import java.util.function.LongSupplier;

/**
 * The workspace room that a sandbox's uploads share. Measuring the workspace counts what uploads
 * in flight have written so far, not what they will still write: each upload used to be given
 * the whole free room when it opened, and eight opened at once wrote 7.2 MB into a 1 MiB
 * workspace. Now their writes take from one count: the workspace apart from them (as of the
 * last measure) plus all they have written stays within the limit.
 */
final class UploadRoom {

    private long base; // bytes in the workspace apart from uploads in flight, as of the last measure
    private long inFlight; // bytes that uploads in flight have taken for their writes

    /**
     * Measures the workspace with usage (which sees what uploads in flight wrote so far) and
     * returns the room left for a new upload.
     */
    long measure(long limit, LongSupplier usage) {
        long before;
        synchronized (this) {
            before = inFlight;
        }
        long measured = usage.getAsLong();
        synchronized (this) {
            base = Math.max(0, measured - before);
            return limit - base - inFlight;
        }
    }

    /** The room of one more upload: a share of this one. */
    UploadQuota quota(long limit) {
        return new UploadQuota() {
            private long taken;

            @Override
            public boolean take(long bytes) {
                synchronized (UploadRoom.this) {
                    if (base + inFlight + bytes > limit) {
                        return false;
                    }
                    inFlight += bytes;
                    taken += bytes;
                    return true;
                }
            }

            @Override
            public void end(boolean kept) {
                synchronized (UploadRoom.this) {
                    inFlight -= taken;
                    if (kept) {
                        base += taken; // in the workspace now, until the next measure sees it there
                    }
                    taken = 0;
                }
            }
        };
    }
}
