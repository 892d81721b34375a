import Foundation

// MARK: - Backward

extension SAETrainer {
    // MARK: - Backward, dense

    /// Backward pass with dense products; fills the gradients and `featureSums`. Returns (Σ‖err‖², Σ f·n).
    func denseBackward(lambda: Float) -> (Double, Double) {
        let batch = batchSize
        let (dIn, dSAE) = (dIn, dSAE)
        if denseGrad == nil { denseGrad = FloatBuffer(batch * dSAE) }
        let dZ = denseGrad!
        // x̂ - b_dec = F D, then the residual G = 2/B (F D - S).
        BLAS.gemm(
            .none, .none, m: batch, n: dIn, k: dSAE, a: features.pointer, lda: dSAE, b: decoder.pointer, ldb: dIn,
            c: residual.pointer, ldc: dIn)
        let r = SharedPointer(residual.pointer)
        let s = SharedPointer(shifted.pointer)
        let f = SharedPointer(features.pointer)
        let n = SharedPointer(norms.pointer)
        let g = SharedPointer(dZ.pointer)
        let twoOverB = 2 / Float(batch)
        let penalty = lambda / Float(batch)
        let sums = Self.chunkedSums(batch) { t in
            let row = r.base + t * dIn
            let input = s.base + t * dIn
            var rowError: Float = 0
            for k in 0..<dIn {
                let d = row[k] - input[k]
                rowError += d * d
                row[k] = d * twoOverB
            }
            return (Double(rowError), Double(BLAS.dot(f.base + t * dSAE, n.base, count: dSAE)))
        }
        // dD = Fᵀ G; dF = G Dᵀ; dZ = (dF + λ/B n) ⊙ [f > 0]; dE = dZᵀ S; dS = dZ E.
        BLAS.gemm(
            .transposed, .none, m: dSAE, n: dIn, k: batch, a: features.pointer, lda: dSAE, b: residual.pointer, ldb: dIn,
            c: gradDecoder.pointer, ldc: dIn)
        BLAS.gemm(
            .none, .transposed, m: batch, n: dSAE, k: dIn, a: residual.pointer, lda: dIn, b: decoder.pointer, ldb: dIn,
            c: dZ.pointer, ldc: dSAE)
        Parallel.chunks(batch, parts: Self.chunkCount) { range, _ in
            for t in range {
                let grad = g.base + t * dSAE
                let act = f.base + t * dSAE
                for i in 0..<dSAE { grad[i] = act[i] > 0 ? grad[i] + penalty * n[i] : 0 }
            }
        }
        BLAS.gemm(
            .transposed, .none, m: dSAE, n: dIn, k: batch, a: dZ.pointer, lda: dSAE, b: shifted.pointer, ldb: dIn,
            c: gradEncoder.pointer, ldc: dIn)
        BLAS.gemm(
            .none, .none, m: batch, n: dIn, k: dSAE, a: dZ.pointer, lda: dSAE, b: encoder.pointer, ldb: dIn,
            c: inputGrad.pointer, ldc: dIn)
        BLAS.gemv(.transposed, m: batch, n: dSAE, a: dZ.pointer, lda: dSAE, x: ones.pointer, y: gradEncoderBias.pointer)
        BLAS.gemv(.transposed, m: batch, n: dSAE, a: features.pointer, lda: dSAE, x: ones.pointer, y: featureSums.pointer)
        accumulateDecoderBiasGradient()
        return sums
    }

    /// `db_dec = Σ_t (G_t - dS_t)`: the bias enters the output directly and the input with a minus sign.
    func accumulateDecoderBiasGradient() {
        let b = gradDecoderBias.pointer
        b.update(repeating: 0, count: dIn)
        for t in 0..<batchSize {
            let g = residual.pointer + t * dIn
            let s = inputGrad.pointer + t * dIn
            for k in 0..<dIn { b[k] += g[k] - s[k] }
        }
    }

    // MARK: - Backward, sparse

    /// Backward pass with sparse row operations (CSR by token, then CSC by feature).
    func sparseBackward(nonZero: Int, lambda: Float) -> (Double, Double) {
        let batch = batchSize
        let (dIn, dSAE) = (dIn, dSAE)
        // CSR of F: rowStart, entryFeature, entryValues.
        rowStart.pointer[0] = 0
        for t in 0..<batch { rowStart.pointer[t + 1] = rowStart.pointer[t] + rowCounts.pointer[t] }
        entryFeature.reserve(nonZero)
        columnEntries.reserve(nonZero)
        if entryValues.count < nonZero {
            entryValues = FloatBuffer(nonZero * 3 / 2)
            entryGrads = FloatBuffer(nonZero * 3 / 2)
        }
        let starts = SharedPointer(rowStart.pointer)
        let cols = SharedPointer(entryFeature.pointer)
        let vals = SharedPointer(entryValues.pointer)
        let dz = SharedPointer(entryGrads.pointer)
        let f = SharedPointer(features.pointer)
        let s = SharedPointer(shifted.pointer)
        let r = SharedPointer(residual.pointer)
        let ds = SharedPointer(inputGrad.pointer)
        let d = SharedPointer(decoder.pointer)
        let e = SharedPointer(encoder.pointer)
        let n = SharedPointer(norms.pointer)
        let twoOverB = 2 / Float(batch)
        let penalty = lambda / Float(batch)
        let terms = Self.chunkedSums(batch) { t in
            var l1 = 0.0
            // Entries of row t.
            var entry = Int(starts[t])
            let row = f.base + t * dSAE
            for i in 0..<dSAE where row[i] > 0 {
                cols[entry] = Int32(i)
                vals[entry] = row[i]
                entry += 1
            }
            let lower = Int(starts[t])
            let upper = Int(starts[t + 1])
            // Residual G_t = 2/B (Σ f D_i - S_t).
            let out = r.base + t * dIn
            let input = s.base + t * dIn
            for k in 0..<dIn { out[k] = -input[k] }
            for j in lower..<upper {
                let i = Int(cols[j])
                BLAS.axpy(vals[j], d.base + i * dIn, out, count: dIn)
                l1 += Double(vals[j] * n[i])
            }
            let error = Double(BLAS.dot(out, out, count: dIn))
            BLAS.scal(twoOverB, out, count: dIn)
            // dz = G_t · D_i + λ/B n_i; dS_t = Σ dz E_i.
            let inGrad = ds.base + t * dIn
            inGrad.update(repeating: 0, count: dIn)
            for j in lower..<upper {
                let i = Int(cols[j])
                let grad = BLAS.dot(out, d.base + i * dIn, count: dIn) + penalty * n[i]
                dz[j] = grad
                BLAS.axpy(grad, e.base + i * dIn, inGrad, count: dIn)
            }
            return (error, l1)
        }

        // CSC: for each feature, its entries in token order.
        let columns = columnStart.pointer
        columns.update(repeating: 0, count: dSAE + 1)
        for j in 0..<nonZero { columns[Int(cols[j]) + 1] += 1 }
        for i in 0..<dSAE { columns[i + 1] += columns[i] }
        var fill = [Int32](repeating: 0, count: dSAE)
        for j in 0..<nonZero {
            let i = Int(cols[j])
            columnEntries.pointer[Int(columns[i] + fill[i])] = Int32(j)
            fill[i] += 1
        }
        // Token of each entry, via the CSR row starts.
        var entryToken = [Int32](repeating: 0, count: nonZero)
        for t in 0..<batch {
            for j in Int(rowStart.pointer[t])..<Int(rowStart.pointer[t + 1]) { entryToken[j] = Int32(t) }
        }
        let colStarts = SharedPointer(columns)
        let colEntries = SharedPointer(columnEntries.pointer)
        let gd = SharedPointer(gradDecoder.pointer)
        let ge = SharedPointer(gradEncoder.pointer)
        let gb = SharedPointer(gradEncoderBias.pointer)
        let sums = SharedPointer(featureSums.pointer)
        entryToken.withUnsafeMutableBufferPointer { tokensBuffer in
            let tokens = SharedPointer(tokensBuffer.baseAddress!)
            Parallel.chunks(dSAE, parts: Self.chunkCount) { range, _ in
                for i in range {
                    let decoderRow = gd.base + i * dIn
                    let encoderRow = ge.base + i * dIn
                    decoderRow.update(repeating: 0, count: dIn)
                    encoderRow.update(repeating: 0, count: dIn)
                    var biasGrad: Float = 0
                    var sum: Float = 0
                    for c in Int(colStarts[i])..<Int(colStarts[i + 1]) {
                        let j = Int(colEntries[c])
                        let t = Int(tokens[j])
                        BLAS.axpy(vals[j], r.base + t * dIn, decoderRow, count: dIn)
                        BLAS.axpy(dz[j], s.base + t * dIn, encoderRow, count: dIn)
                        biasGrad += dz[j]
                        sum += vals[j]
                    }
                    gb[i] = biasGrad
                    sums[i] = sum
                }
            }
        }
        accumulateDecoderBiasGradient()
        return terms
    }

    // MARK: - Update

    /// Adds the gradient of `λ/B Σ_t f_ti ‖D_i‖` with respect to `D_i`: `(λ/B Σ_t f_ti) D_i / ‖D_i‖`.
    func addDecoderNormGradient(lambda: Float) {
        let penalty = lambda / Float(batchSize)
        let dIn = dIn
        let (d, gd, n, sums) = (
            SharedPointer(decoder.pointer), SharedPointer(gradDecoder.pointer), SharedPointer(norms.pointer),
            SharedPointer(featureSums.pointer)
        )
        Parallel.chunks(dSAE, parts: Self.chunkCount) { range, _ in
            for i in range where sums[i] > 0 && n[i] > 0 {
                BLAS.axpy(penalty * sums[i] / n[i], d.base + i * dIn, gd.base + i * dIn, count: dIn)
            }
        }
    }

    /// Loss and gradients on the next batch, without updating anything (for gradient checks).
    func lossAndGradients(lambda: Float, dense: Bool) -> (loss: Double, gradients: [[Float]]) {
        let saved = cursor
        gatherBatch()
        cursor = saved
        let nonZero = encodeBatch()
        computeDecoderNorms()
        let (squaredError, l1Sum) = dense ? denseBackward(lambda: lambda) : sparseBackward(nonZero: nonZero, lambda: lambda)
        addDecoderNormGradient(lambda: lambda)
        let loss = (squaredError + Double(lambda) * l1Sum) / Double(batchSize)
        return (loss, [gradEncoder.array, gradEncoderBias.array, gradDecoder.array, gradDecoderBias.array])
    }

    /// The parameter buffers in the order `lossAndGradients` returns their gradients.
    var parameterBuffers: [FloatBuffer] { [encoder, encoderBias, decoder, decoderBias] }
}

extension SAETrainer {
    /// Runs `row` for every row of a batch in ``chunkCount`` parallel chunks and sums the
    /// (squared error, L1) terms it returns, in a fixed order (so the sums do not depend on timing).
    static func chunkedSums(_ batch: Int, _ row: (Int) -> (error: Double, l1: Double)) -> (error: Double, l1: Double) {
        var errorParts = [Double](repeating: 0, count: chunkCount)
        var l1Parts = [Double](repeating: 0, count: chunkCount)
        errorParts.withUnsafeMutableBufferPointer { errorBuffer in
            l1Parts.withUnsafeMutableBufferPointer { l1Buffer in
                let errors = SharedPointer(errorBuffer.baseAddress!)
                let l1s = SharedPointer(l1Buffer.baseAddress!)
                Parallel.chunks(batch, parts: chunkCount) { range, chunk in
                    var error = 0.0
                    var l1 = 0.0
                    for t in range {
                        let terms = row(t)
                        error += terms.error
                        l1 += terms.l1
                    }
                    errors[chunk] = error
                    l1s[chunk] = l1
                }
            }
        }
        return (errorParts.reduce(0, +), l1Parts.reduce(0, +))
    }
}
