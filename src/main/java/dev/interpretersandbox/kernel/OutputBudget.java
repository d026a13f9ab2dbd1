package dev.interpretersandbox.kernel;

import dev.interpretersandbox.config.SandboxConfig;

/**
 * What one execution may send back (sandbox.output.*), and the protocol bounds that follow from
 * it: the driver is told the caps and cuts there, the service cuts again at the same caps, and the
 * channel treats more than a driver can legitimately send as a broken protocol.
 *
 * @param streamBytes stdout and stderr text, in UTF-8 bytes
 * @param displayBytes all displays of the execution together, as sent
 * @param displays number of displays
 * @param errorBytes the text of error events
 */
public record OutputBudget(long streamBytes, long displayBytes, int displays, long errorBytes) {

    /** Room for a line's JSON around the largest display, and for small messages. */
    private static final int LINE_SLACK = 1 << 20;
    /** JSON escapes a control character as six bytes, the worst case of text on the wire. */
    private static final int ESCAPED = 6;

    private static final long EPOCH_SLACK = 16L << 20;

    public static OutputBudget of(SandboxConfig.Output output) {
        return new OutputBudget(
                output.maxStreamBytes().asLongValue(),
                output.maxDisplayBytes().asLongValue(),
                output.maxDisplays(),
                output.maxErrorBytes().asLongValue());
    }

    /** The longest line the driver may send: the largest display and its JSON around it. */
    public int maxLine() {
        return (int) Math.min(Integer.MAX_VALUE - 64, displayBytes + LINE_SLACK);
    }

    /**
     * The channel's bounds: lines up to {@link #maxLine}, and per request (and the quiet time after
     * it) at most what a driver keeping to the caps could send with every character escaped.
     */
    public KernelChannel.Limits channelLimits() {
        return new KernelChannel.Limits(maxLine(), ESCAPED * (streamBytes + displayBytes + errorBytes) + EPOCH_SLACK);
    }

    /**
     * The caps as the driver applies them (characters are at most UTF-8 bytes, so the driver never
     * cuts earlier than the service does).
     */
    public DriverClient.OutputLimits driverLimits() {
        return new DriverClient.OutputLimits(streamBytes, displayBytes, displays, errorBytes, maxLine());
    }
}
