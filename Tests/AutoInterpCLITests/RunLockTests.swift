import AutoInterpTestSupport
import Foundation
import Testing

@testable import AutoInterp

#if canImport(Glibc)
import Glibc
#endif

/// Issue 12, problem 1: one writer per run; readers work while it writes and on read-only media.
struct RunLockTests {
    @Test func aSecondWriterIsRefusedNamingTheHolder() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try CLIFixtures.example(dir)
        let results = dir.path("results")
        let args = ["select", "--activations", dataset.path, "--sae", sae.path, "--features", "all", "--neurons", "0-3", "--name", "r", "--results", results.path, "--quiet"]
        #expect(try CLIRunner.run(args).status == 0)

        // This test process becomes the live writer of run r.
        try RunLock.acquire(runFolder: results.appendingPathComponent("r"), name: "r")
        let lockText = try String(contentsOf: RunLock.url(runFolder: results.appendingPathComponent("r")), encoding: .utf8)
        #expect(lockText.hasPrefix("pid \(getpid()) since "))

        let second = try CLIRunner.run(args)
        #expect(second.oneLineErrorProblem(["run 'r' is being written by process \(getpid()) (since ", "pick another --name"]) == nil)
        // --force-new with a changed config never deletes the run from under the live writer.
        let replace = try CLIRunner.run(args.map { $0 == "0-3" ? "0-4" : $0 } + ["--force-new"])
        #expect(replace.oneLineErrorProblem(["is being written by process \(getpid())"]) == nil)
        let store = try RunStore(readingAt: results.appendingPathComponent("r/autointerp.sqlite"))
        #expect(try store.units(runID: try #require(try store.run(named: "r")).id).count == 11)

        // Readers take no lock: they work while the writer holds it.
        let export = try CLIRunner.run(["export", "--run", "r", "--results", results.path, "--output", "-"])
        #expect(export.status == 0, "\(export.stderr)")
        let compare = try CLIRunner.run(["compare", "--run", "r", "--results", results.path])
        #expect(compare.status == 0, "\(compare.stderr)")
    }

    @Test func theLockDiesWithItsProcess() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (dataset, sae) = try CLIFixtures.example(dir)
        let results = dir.path("results")
        let args = ["select", "--activations", dataset.path, "--sae", sae.path, "--features", "all", "--name", "r", "--results", results.path, "--quiet"]
        #expect(try CLIRunner.run(args).status == 0)
        // The finished process left its lock file; it blocks no one.
        #expect(FileManager.default.fileExists(atPath: RunLock.url(runFolder: results.appendingPathComponent("r")).path))
        let again = try CLIRunner.run(args)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("already stored: 7"))
    }

    @Test func exportReadsAFinishedRunOnReadOnlyMedia() throws {
        let dir = try TemporaryDirectory()
        defer {
            chmod(dir.path("fx").path, 0o755)
            dir.remove()
        }
        do {
            let (store, _) = try CLIFixtures.run(dir)
            _ = store
        }  // closed: the WAL is checkpointed into the main file
        let folder = dir.path("fx")
        #expect(chmod(folder.path, 0o555) == 0)
        let arguments = ["export", "--run", "fx", "--results", dir.url.path, "--output", "-"]
        // root writes anywhere: run the reader as nobody so the folder really is read-only to it.
        let result: CLIRunner.Result
        if getuid() == 0 {
            result = try CLIRunner.run(arguments, via: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        } else {
            result = try CLIRunner.run(arguments)
        }
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").count == 11, "\(result.stdout.prefix(300))")
        let entries = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(!entries.contains { $0.hasSuffix("-shm") || $0.hasSuffix("-wal") }, "\(entries)")
    }
}

/// Issue 23, problem 3: the lock never follows a planted symlink nor opens anything but a regular file.
struct RunLockHostileFileTests {
    @Test func aSymlinkedOrSpecialLockIsRefusedAndItsTargetUntouched() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let folder = dir.path("results/r")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let target = dir.path("precious.txt")
        try "keep me\n".write(to: target, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(at: RunLock.url(runFolder: folder), withDestinationURL: target)
        let error = #expect(throws: AutoInterpError.self) { try RunLock.acquire(runFolder: folder, name: "r") }
        #expect(error?.message.contains("the run lock is a symbolic link, refused") == true, "\(error?.message ?? "")")
        #expect(try String(contentsOf: target, encoding: .utf8) == "keep me\n")

        // A FIFO in its place (opening one for reading could block forever).
        try FileManager.default.removeItem(at: RunLock.url(runFolder: folder))
        #expect(mkfifo(RunLock.url(runFolder: folder).path, 0o644) == 0)
        let fifo = #expect(throws: AutoInterpError.self) { try RunLock.acquire(runFolder: folder, name: "r") }
        #expect(fifo?.message.contains("not a regular file") == true, "\(fifo?.message ?? "")")
    }
}
