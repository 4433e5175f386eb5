import NixActionsPluginMessages

/// Option readers the executors share.
public enum PluginOptions {
    /// `grace-seconds`: a cancelled step's time between SIGTERM and SIGKILL, 5 s when not given; a
    /// number from 0 to 3600, else an error that says so (audit 61 input H1: `1e300` trapped, and a
    /// string was the default without a word).
    public static func graceSeconds(_ value: JSONValue?, who: String) throws -> Duration {
        switch value {
        case nil, .null?: return .seconds(5)
        case .number(let seconds)? where seconds >= 0 && seconds <= 3600: return .milliseconds(Int64((seconds * 1000).rounded()))
        default:
            throw OperationFailure(message: "\(who): 'grace-seconds' must be a number of seconds from 0 to 3600",
                                   hint: "grace-seconds: 10")
        }
    }

    /// A number as an option's text: a whole one without a fraction, any other as written
    /// (`1e300` is not a whole number Int can hold: it stays `1e+300`, which the option's own
    /// check then refuses, instead of a trap).
    public static func numberText(_ number: Double) -> String {
        number.rounded() == number && abs(number) < 9e15 ? String(Int64(number)) : String(number)
    }
}
