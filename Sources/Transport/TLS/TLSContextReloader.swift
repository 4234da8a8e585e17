import Synchronization

/// The current `TLSServerContext` of one listener, rebuilt when its files change.
///
/// Certificates issued by SPIRE or cert-manager live hours, so they are replaced on disk
/// while the server runs. The event loops' sweeps call `reloadIfChanged`; at most once a
/// second it compares the files' identities (device, inode, size, modification and change
/// times — a symlink swap as Kubernetes does it changes the inode) and, when one changed,
/// builds a new context and swaps it in. New connections use the new context; established
/// ones keep theirs. A failed build (missing file, mismatched key) keeps the old context and
/// is reported once per change through the transport observer.
public final class TLSContextReloader: Sendable {
    let configuration: TLSConfiguration
    private let listenerName: String
    private let observer: (any TransportObserver)?
    private let state: Mutex<State>

    private struct State {
        var context: TLSServerContext
        var identities: [FileStamp?]
        var nextCheck: UInt64
        var checking = false
    }

    static let checkInterval: UInt64 = 1_000_000_000

    /// Builds the first context; throws when the files are unusable, so a bad configuration
    /// fails at startup.
    public init(configuration: TLSConfiguration, listenerName: String, observer: (any TransportObserver)?) throws {
        self.configuration = configuration
        self.listenerName = listenerName
        self.observer = observer
        let identities = configuration.watchedFiles.map(FileStamp.init(path:))
        let context = try TLSServerContext(configuration)
        state = Mutex(State(context: context, identities: identities, nextCheck: EventLoop.now() + Self.checkInterval))
    }

    /// The context new connections use.
    var current: TLSServerContext {
        state.withLock { $0.context }
    }

    /// Rebuilds the context if a file changed and the last check is a second old. Cheap when
    /// nothing is due; callable from any loop (one caller checks, the others return). Runs
    /// on a loop thread: a rebuild reads three small files, about a millisecond per rotation.
    func reloadIfChanged(now: UInt64) {
        let previous: [FileStamp?]? = state.withLock { state in
            guard now >= state.nextCheck, !state.checking else { return nil }
            state.checking = true
            state.nextCheck = now + Self.checkInterval
            return state.identities
        }
        guard let previous else { return }
        let identities = configuration.watchedFiles.map(FileStamp.init(path:))
        guard identities != previous else {
            state.withLock { $0.checking = false }
            return
        }
        do {
            let context = try TLSServerContext(configuration)
            state.withLock { state in
                state.context = context
                state.identities = identities
                state.checking = false
            }
            observer?.tlsContextReloaded(listener: listenerName, error: nil)
        } catch {
            state.withLock { state in
                state.identities = identities
                state.checking = false
            }
            observer?.tlsContextReloaded(listener: listenerName, error: error as? TLSError ?? TLSError("\(error)"))
        }
    }
}
