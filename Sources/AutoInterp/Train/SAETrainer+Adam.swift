import Foundation

// MARK: - Clipping and Adam

extension SAETrainer {
    /// One trainable tensor with its gradient and Adam moments.
    struct TrainableParameter {
        let value: FloatBuffer
        let gradient: FloatBuffer
        let moments: AdamMoments
    }

    /// The parameters in a fixed order (encoder, encoder bias, decoder, decoder bias).
    var trainableParameters: [TrainableParameter] {
        [
            TrainableParameter(value: encoder, gradient: gradEncoder, moments: adam.encoder),
            TrainableParameter(value: encoderBias, gradient: gradEncoderBias, moments: adam.encoderBias),
            TrainableParameter(value: decoder, gradient: gradDecoder, moments: adam.decoder),
            TrainableParameter(value: decoderBias, gradient: gradDecoderBias, moments: adam.decoderBias),
        ]
    }

    /// Scales all gradients together so their global norm is at most `gradientClipNorm`.
    func clipGradients() {
        guard let limit = config.gradientClipNorm else { return }
        var squared = 0.0
        for parameter in trainableParameters {
            let grad = parameter.gradient
            var parts = [Double](repeating: 0, count: Self.chunkCount)
            let g = SharedPointer(grad.pointer)
            parts.withUnsafeMutableBufferPointer { buffer in
                let p = SharedPointer(buffer.baseAddress!)
                Parallel.chunks(grad.count, parts: Self.chunkCount) { range, chunk in
                    let value = BLAS.dot(g.base + range.lowerBound, g.base + range.lowerBound, count: range.count)
                    p[chunk] = Double(value)
                }
            }
            squared += parts.reduce(0, +)
        }
        let norm = squared.squareRoot()
        guard norm > Double(limit) else { return }
        let scale = Float(Double(limit) / norm)
        for parameter in trainableParameters { BLAS.scal(scale, parameter.gradient.pointer, count: parameter.gradient.count) }
    }

    /// One Adam update of every parameter at learning rate `rate`; `step` is 1-based (bias correction).
    func applyAdam(rate: Float, step: Int) {
        let (beta1, beta2, epsilon) = (config.adamBeta1, config.adamBeta2, config.adamEpsilon)
        let correction1 = 1 - Float(Foundation.pow(Double(beta1), Double(step)))
        let correction2 = 1 - Float(Foundation.pow(Double(beta2), Double(step)))
        let stepSize = rate / correction1
        let rootCorrection2 = correction2.squareRoot()
        for parameter in trainableParameters {
            let (p, g, m, v) = (
                SharedPointer(parameter.value.pointer), SharedPointer(parameter.gradient.pointer),
                SharedPointer(parameter.moments.firstMoment.pointer), SharedPointer(parameter.moments.secondMoment.pointer)
            )
            Parallel.chunks(parameter.value.count, parts: Self.chunkCount) { range, _ in
                for k in range {
                    let gradient = g[k]
                    let first = beta1 * m[k] + (1 - beta1) * gradient
                    let second = beta2 * v[k] + (1 - beta2) * gradient * gradient
                    m[k] = first
                    v[k] = second
                    p[k] -= stepSize * first / (second.squareRoot() / rootCorrection2 + epsilon)
                }
            }
        }
    }
}

/// Adam's moment estimates for one parameter tensor.
struct AdamMoments: Sendable {
    /// Running mean of the gradient (`m`).
    let firstMoment: FloatBuffer
    /// Running mean of the squared gradient (`v`).
    let secondMoment: FloatBuffer

    /// Zeroed moments for a tensor of `count` elements.
    init(_ count: Int) {
        firstMoment = FloatBuffer(count)
        secondMoment = FloatBuffer(count)
    }

    /// Zeroes both moments of elements `offset ..< offset + count` (a resampled feature's row).
    func reset(offset: Int, count: Int) {
        firstMoment.pointer.advanced(by: offset).update(repeating: 0, count: count)
        secondMoment.pointer.advanced(by: offset).update(repeating: 0, count: count)
    }
}

/// The Adam state of the trainer's four parameters, by name.
struct SAEAdamState: Sendable {
    let encoder: AdamMoments
    let encoderBias: AdamMoments
    let decoder: AdamMoments
    let decoderBias: AdamMoments
}
