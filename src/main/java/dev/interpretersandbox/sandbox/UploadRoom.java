package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.files.UploadQuota;
import java.util.HashSet;
import java.util.Set;
import java.util.function.ToLongFunction;

/**
 * The workspace room that a sandbox's uploads share. Each upload used to be given the whole free
 * room when it opened, and eight opened at once wrote 7.2 MB into a 1 MiB workspace. Now their
 * writes take from one count: the rest of the workspace (as of the last measure) plus all that
 * uploads in flight have written stays within the limit. A measure leaves out the files of
 * uploads in flight (by file key), and adds what uploads kept while it walked; an upload that
 * replaces a file is counted with the file it replaced until the next measure (more, not less).
 */
final class UploadRoom {

    private long base; // bytes in the workspace apart from uploads in flight
    private long inFlight; // bytes that uploads in flight have taken for their writes
    private final Set<Object> files = new HashSet<>(); // the file keys of uploads in flight
    private boolean measuring;
    private long keptWhileMeasuring;

    /**
     * Measures the workspace with usage, given the file keys to leave out, and returns the room
     * left for a new upload.
     */
    long measure(long limit, ToLongFunction<Set<Object>> usage) {
        Set<Object> skip;
        synchronized (this) {
            skip = Set.copyOf(files);
            measuring = true;
            keptWhileMeasuring = 0;
        }
        long measured;
        try {
            measured = usage.applyAsLong(skip);
        } finally {
            synchronized (this) {
                measuring = false;
            }
        }
        synchronized (this) {
            // an upload kept during the walk was left out by its key, or not yet in the workspace
            base = measured + keptWhileMeasuring;
            return limit - base - inFlight;
        }
    }

    /** The room of one more upload, writing the file with key (see {@link Quota#file}). */
    Quota quota(long limit) {
        return new Quota(limit);
    }

    /** One upload's share of the room. */
    final class Quota implements UploadQuota {
        private final long limit;
        private long taken;
        private Object file;

        private Quota(long limit) {
            this.limit = limit;
        }

        /** The upload's file, left out of measures while it is in flight. */
        void file(Object key) {
            synchronized (UploadRoom.this) {
                file = key;
                files.add(key);
            }
        }

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
                    if (measuring) {
                        keptWhileMeasuring += taken;
                    }
                }
                taken = 0;
                if (file != null) {
                    files.remove(file);
                    file = null;
                }
            }
        }
    }
}
