import ArgumentParser
import Backends
import Dispatch
import Foundation

/// `feather chat`: a conversation with a model through its chat template.
///
/// On a terminal: a prompt, streamed answers, `/reset`, `/exit`; Ctrl-C stops the answer, a second
/// Ctrl-C at the prompt quits. Otherwise one user message per input line and one answer per output
/// line; inside both, a newline is written as the two characters `\n`, a backslash as `\\` and a
/// carriage return as `\r`. `/reset` and `/exit` lines print nothing.
struct Chat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Chat with a model through its chat template.")

    @Argument(help: "A .gguf path or a model short name.") var model: String
    @Option(help: "System message.") var system: String?
    @Option(name: .customLong("chat-template"), help: "A Jinja chat template file to use instead of the model's.") var chatTemplate: String?
    @Option(name: .short, help: "Tokens per answer at most.") var n = 512
    @OptionGroup var samplingOptions: SamplingOptions
    @Option(name: .short, help: "Threads (default: physical cores).") var t: Int?
    @Option(help: "Context length in tokens.") var ctx = 4096
    @Flag(help: "Template origin and timings on stderr.") var verbose = false

    var sampling: Sampling { samplingOptions.sampling }

    func validate() throws {
        try CommonOptions.checkThreads(t)
        try CommonOptions.checkContext(ctx)
        try CommonOptions.checkMaxTokens(n)
    }

    func run() async throws {
        let session: LocalChat
        do {
            let local = try BackendFactory.localModel(path: try resolveModelPath(model), options: LocalModelOptions(threads: t, contextLength: ctx),
                                                      warning: CommonOptions.warn)
            session = try local.chat(system: system, templateFile: chatTemplate)
        } catch {
            throw fail(error)
        }
        if verbose { log("chat template: \(session.templateOrigin)") }
        if isatty(STDIN_FILENO) != 0 {
            interactive(session, sampling)
        } else {
            do { try scripted(session, sampling) } catch { throw fail(error) }
        }
    }

    /// One message per line in, one answer per line out; the first error ends the run (exit code 1).
    func scripted(_ session: LocalChat, _ sampling: Sampling) throws {
        while let line = readLine(strippingNewline: true) {
            let message = Self.unescape(line.hasSuffix("\r") ? String(line.dropLast()) : line)
            switch message.trimmingCharacters(in: .whitespaces) {
            case "/exit": return
            case "/reset": session.reset(); continue
            default: break
            }
            let reply = try session.respond(to: message, maxTokens: n, sampling: sampling)
            FileHandle.standardOutput.write(Data((Self.escape(reply.text) + "\n").utf8))
            report(reply)
        }
    }

    func interactive(_ session: LocalChat, _ sampling: Sampling) {
        let interrupt = Interrupt()
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: DispatchQueue(label: "feather.chat.sigint"))
        source.setEventHandler { interrupt.signal() }
        source.resume()
        defer { source.cancel() }
        print("Chatting with \(model) (\(session.templateOrigin)). /reset clears the history, /exit or Ctrl-D quits; Ctrl-C stops an answer.")
        while true {
            interrupt.atPrompt()
            FileHandle.standardOutput.write(Data("> ".utf8))
            guard var line = readLine(strippingNewline: true) else { print(""); return }
            // A line ending in a backslash continues on the next.
            while line.hasSuffix("\\"), let more = readLine(strippingNewline: true) { line = String(line.dropLast()) + "\n" + more }
            switch line.trimmingCharacters(in: .whitespaces) {
            case "": continue
            case "/exit", "/quit": return
            case "/reset": session.reset(); print("(history cleared)"); continue
            default: break
            }
            interrupt.generating()
            do {
                let reply = try session.respond(to: line, maxTokens: n, sampling: sampling, shouldStop: { interrupt.stopRequested }) { text in
                    FileHandle.standardOutput.write(Data(text.utf8))
                }
                print(reply.interrupted ? " [stopped]" : reply.reachedTokenLimit ? " [token limit]" : "")
                report(reply)
            } catch {
                print("")
                log("error: \(error)")
            }
        }
    }

    func report(_ reply: LocalChatReply) {
        guard verbose else { return }
        let tm = reply.speed
        log(String(format: "prompt: %d tokens, %.2f s, %.1f tok/s; answer: %d tokens, %.2f s, %.1f tok/s; finish: %@",
                   tm.promptTokens, tm.promptSeconds, tm.promptTokensPerSecond, tm.generatedTokens, tm.generationSeconds,
                   tm.generationTokensPerSecond, reply.endedTurn ? "end of turn" : reply.interrupted ? "interrupted" : "length"))
    }

    func log(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

    static func escape(_ text: String) -> String {
        var out = ""
        for c in text.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func unescape(_ line: String) -> String {
        var out = "", escaped = false
        for c in line.unicodeScalars {
            if escaped {
                switch c {
                case "n": out += "\n"
                case "r": out += "\r"
                case "\\": out += "\\"
                default: out += "\\"; out.unicodeScalars.append(c)
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.unicodeScalars.append(c)
            }
        }
        if escaped { out += "\\" }
        return out
    }
}

/// Ctrl-C state shared with the signal handler: stops an answer while generating; at the prompt, the
/// first Ctrl-C explains and the second quits.
final class Interrupt: @unchecked Sendable {
    private let lock = NSLock()
    private var inAnswer = false
    private var stop = false
    private var pressedAtPrompt = false

    var stopRequested: Bool { lock.withLock { stop } }
    func generating() { lock.withLock { inAnswer = true; stop = false; pressedAtPrompt = false } }
    func atPrompt() { lock.withLock { inAnswer = false; stop = false } }

    func signal() {
        let quit: Bool = lock.withLock {
            if inAnswer { stop = true; return false }
            if pressedAtPrompt { return true }
            pressedAtPrompt = true
            return false
        }
        if quit { FileHandle.standardOutput.write(Data("\n".utf8)); exit(130) }
        if !stopRequested { FileHandle.standardOutput.write(Data("\n(Ctrl-C again or /exit to quit)\n> ".utf8)) }
    }
}
