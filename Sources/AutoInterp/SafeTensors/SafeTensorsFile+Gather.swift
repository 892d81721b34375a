import Foundation

extension SafeTensorsFile {
    /// Converts the elements at `elements` (flat, row-major indices, any order) of `info` to
    /// `Float` into `destination`, touching only the pages that hold them.
    ///
    /// Pages are handed back to the OS as the gather moves on, so reading a few columns of a
    /// matrix larger than memory keeps the resident size at the columns read.
    /// - Throws: `AutoInterpError.invalidFile` when the tensor is not a float type.
    public func gatherFloats(_ info: SafeTensorInfo, elements: [Int], into destination: UnsafeMutablePointer<Float>) throws {
        guard info.dtype.isConvertibleFloat else {
            throw AutoInterpError.invalidFile(url.path, "tensor '\(info.name)' is \(info.dtype.rawValue); expected F32, F16, BF16 or F64")
        }
        let base = rawBytes(info).baseAddress!
        let size = info.dtype.byteSize
        let count = info.elementCount
        // Scattered reads: no read-ahead, which on a row-major [d_in, d_sae] matrix would read
        // megabytes around every row's few columns.
        advise(info, MADV_RANDOM)
        defer { advise(info, MADV_NORMAL) }
        var blockStart = 0
        while blockStart < elements.count {
            let blockEnd = min(blockStart + 256, elements.count)
            var low = Int.max, high = Int.min
            for i in blockStart..<blockEnd {
                let element = elements[i]
                precondition(element >= 0 && element < count, "element \(element) out of bounds")
                FloatConversion.convert(base + element * size, dtype: info.dtype, count: 1, into: destination + i)
                low = min(low, element)
                high = max(high, element)
            }
            releasePagesAround(info, bytes: (low * size)..<((high + 1) * size))
            blockStart = blockEnd
        }
    }

    /// The smallest and largest finite element of `info`, read in chunks whose pages are handed
    /// back as it goes; nil when no element is finite.
    public func finiteRange(_ info: SafeTensorInfo) throws -> ClosedRange<Float>? {
        let chunk = 1 << 16
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: chunk)
        defer { buffer.deallocate() }
        var low = Float.infinity, high = -Float.infinity
        for start in stride(from: 0, to: info.elementCount, by: chunk) {
            let range = start..<min(start + chunk, info.elementCount)
            try copyFloats(info, elements: range, into: buffer)
            for i in 0..<range.count where buffer[i].isFinite {
                low = min(low, buffer[i])
                high = max(high, buffer[i])
            }
            releasePagesAround(info, bytes: (range.lowerBound * info.dtype.byteSize)..<(range.upperBound * info.dtype.byteSize))
        }
        return low <= high ? low...high : nil
    }

    /// Applies `advice` to the pages of `info` (rounded outward).
    private func advise(_ info: SafeTensorInfo, _ advice: Int32) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let bytes = rawBytes(info)
        guard bytes.count > 0 else { return }
        let base = Int(bitPattern: bytes.baseAddress!)
        let start = base / page * page
        let end = (base + bytes.count + page - 1) / page * page
        madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, advice)
    }

    /// Drops the mapped pages that overlap `bytes` of `info` (rounded outward to whole pages).
    ///
    /// The mapping is read-only, so a page dropped here that is needed again is read back.
    private func releasePagesAround(_ info: SafeTensorInfo, bytes: Range<Int>) {
        guard !bytes.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let base = Int(bitPattern: rawBytes(info).baseAddress!)
        let start = (base + bytes.lowerBound) / page * page
        let end = (base + bytes.upperBound + page - 1) / page * page
        madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_DONTNEED)
    }
}
