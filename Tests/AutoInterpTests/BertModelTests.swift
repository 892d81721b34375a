import Foundation
import Testing
@testable import AutoInterp
import AutoInterpTestSupport

/// The BERT runner on the tiny formula-weight model, against numbers from
/// `Tests/Scripts/tiny_bert_reference.py` (a numpy transcription of Hugging Face's BertModel).
struct BertModelTests {
    /// The sequences the reference ran, as one padded batch with an attention mask.
    static let sequences: [[Int32]] = [[2, 5, 6, 7, 8, 5, 9, 15, 3], [2, 18, 19, 17, 3], [2, 3]]

    static func expectClose(_ got: [Float], _ expected: [Float], tolerance: Float = 1e-4) {
        #expect(got.count == expected.count)
        let worst = zip(got, expected).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= tolerance, "max abs diff \(worst)")
    }

    @Test(arguments: [0, 1])
    func intermediateActivationsMatchReference(layer: Int) throws {
        let model = try BertModel(config: TinyBertFixture.config, weights: TinyBertFixture.weights())
        let got = try model.intermediateActivations(Self.sequences, layer: layer)
        Self.expectClose(got, layer == 0 ? Self.expectedLayer0 : Self.expectedLayer1)
    }

    @Test func eachSequenceIsIndependentOfItsBatch() throws {
        let model = try BertModel(config: TinyBertFixture.config, weights: TinyBertFixture.weights())
        let width = TinyBertFixture.config.intermediateSize
        let second = try model.intermediateActivations([Self.sequences[1]], layer: 1)
        let offset = Self.sequences[0].count * width
        Self.expectClose(second, Array(Self.expectedLayer1[offset..<(offset + second.count)]))
        #expect(try model.intermediateActivations([], layer: 0).isEmpty)
    }

    @Test func loadsFolderWithPrefixedNamesAndOnlyNeededLayers() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try TinyBertFixture.write(to: dir.url, prefix: "bert.")
        let model = try BertModel.load(directory: dir.url, layerCount: 1)
        #expect(model.layerCount == 1)
        #expect(model.config == TinyBertFixture.config)
        Self.expectClose(try model.intermediateActivations(Self.sequences, layer: 0), Self.expectedLayer0)
        #expect(throws: AutoInterpError.self) { try model.intermediateActivations(Self.sequences, layer: 1) }
    }

    @Test func badInputsAreOneLineErrors() throws {
        let model = try BertModel(config: TinyBertFixture.config, weights: TinyBertFixture.weights())
        #expect(throws: AutoInterpError.self) { try model.intermediateActivations([[2, 99, 3]], layer: 0) }
        #expect(throws: AutoInterpError.self) { try model.intermediateActivations([Array(repeating: 5, count: 17)], layer: 0) }
        var weights = TinyBertFixture.weights()
        weights["encoder.layer.1.output.dense.weight"] = BertTensor(shape: [8, 8], values: Array(repeating: 0, count: 64))
        #expect(throws: AutoInterpError.self) { try BertModel(config: TinyBertFixture.config, weights: weights) }
        var unsupported = TinyBertFixture.config
        unsupported.hiddenAct = "swish"
        #expect(throws: AutoInterpError.self) { try BertModel(config: unsupported, weights: TinyBertFixture.weights()) }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        #expect(throws: AutoInterpError.self) { try BertModel.load(directory: dir.url) }
    }

    /// Layer 0 post-GELU activations, 16 tokens x 16, from tiny_bert_reference.py.
    static let expectedLayer0: [Float] = [
        1.1349582, -0.1683745, 0.3160627, -0.0615918, -0.1355491, 0.4367918, -0.1425861, 1.1746353, -0.0708954, 1.8072140, -0.0397690, 2.1708856, -0.0355320, 2.2084877, -0.0515072, 1.8951823,
        -0.1052626, 1.1243289, -0.1637359, 0.3580010, -0.1077124, -0.1075832, 0.3019077, -0.1594897, 1.0091780, -0.0950759, 1.6614864, -0.0569483, 2.0502843, -0.0472851, 2.1111275, -0.0584972,
        -0.1018792, 1.0828078, -0.1686314, 0.2274520, -0.0299793, -0.1583349, 0.5754727, -0.1239151, 1.3951754, -0.0555040, 2.0389878, -0.0303418, 2.3697748, -0.0278885, 2.3424984, -0.0433655,
        -0.1151150, 1.1049893, -0.1607065, 0.4495004, -0.1436546, -0.0323542, 0.1153256, -0.1694962, 0.6744502, -0.1362913, 1.2906185, -0.0937118, 1.7146645, -0.0758900, 1.8465520, -0.0804822,
        -0.1084381, 0.9752938, -0.1692217, 0.1025395, 0.0809554, -0.1699247, 0.8371386, -0.0907605, 1.6868610, -0.0344372, 2.2903336, -0.0189619, 2.5578684, -0.0202468, 2.4493322, -0.0388219,
        -0.1208438, 1.0842983, -0.1600556, 0.4823960, -0.1531122, 0.0077078, 0.0510217, -0.1632889, 0.5384148, -0.1521208, 1.1242478, -0.1124763, 1.5572826, -0.0916473, 1.7182750, -0.0924316,
        1.2621345, -0.1618043, 0.4240850, -0.1031736, -0.1070918, 0.3411534, -0.1525749, 1.0864410, -0.0777781, 1.7631082, -0.0412233, 2.1747784, -0.0337260, 2.2580934, -0.0455912, 1.9864328,
        -0.1055928, 1.1244426, -0.1635546, 0.3626924, -0.1099055, -0.1047146, 0.2921737, -0.1605305, 0.9934549, -0.0969297, 1.6450764, -0.0583692, 2.0358473, -0.0483486, 2.1000701, -0.0593272,
        0.4223312, -0.0881398, -0.0423566, 0.2064213, -0.1699706, 0.6775243, -0.1283371, 1.1632280, -0.0871968, 1.5145509, -0.0767339, 1.6459336, -0.0928902, 1.5112120, -0.1324242, 1.1011834,
        1.1285402, -0.1684229, 0.3185847, -0.0644001, -0.1331931, 0.4230106, -0.1446149, 1.1513568, -0.0734374, 1.7810924, -0.0416716, 2.1456635, -0.0371688, 2.1866864, -0.0531824, 1.8791108,
        -0.1026280, 1.0855458, -0.1682660, 0.2418810, -0.0413103, -0.1544048, 0.5383476, -0.1291489, 1.3450799, -0.0600439, 1.9899113, -0.0332288, 2.3272110, -0.0301135, 2.3105298, -0.0453566,
        1.3738889, -0.1509256, 0.5621740, -0.1415958, -0.0468335, 0.1992608, -0.1661000, 0.8994105, -0.0968980, 1.6084330, -0.0513250, 2.0766767, -0.0382883, 2.2238658, -0.0456367, 2.0202666,
        -0.1168169, 0.8872575, -0.1646665, 0.0413904, 0.1515270, -0.1668701, 0.9560630, -0.0782105, 1.7926590, -0.0288968, 2.3640403, -0.0167012, 2.5945455, -0.0195035, 2.4454643, -0.0406456,
        0.7428409, -0.1544799, 0.0879293, 0.0721580, -0.1652083, 0.5960979, -0.1302962, 1.2180607, -0.0739917, 1.7050339, -0.0530581, 1.9434877, -0.0579227, 1.8824842, -0.0879184, 1.5018591,
        1.1510331, -0.1682494, 0.3098137, -0.0544092, -0.1410508, 0.4717196, -0.1373386, 1.2328540, -0.0647523, 1.8722003, -0.0352867, 2.2336490, -0.0316727, 2.2627824, -0.0474714, 1.9352519,
        -0.1024511, 1.1172279, -0.1657952, 0.3054850, -0.0802835, -0.1343369, 0.4127085, -0.1459418, 1.1780597, -0.0762216, 1.8328901, -0.0433953, 2.1990561, -0.0372482, 2.2231005, -0.0505756,
    ]

    /// Layer 1 post-GELU activations, 16 tokens x 16, from tiny_bert_reference.py.
    static let expectedLayer1: [Float] = [
        0.4557145, -0.1411466, 1.1968018, -0.0728714, 1.8204114, -0.0428549, 2.1651234, -0.0389616, 2.1768961, -0.0554980, 1.8369128, -0.1012126, 1.1693619, -0.1641569, 0.3603388, -0.0962494,
        -0.1665553, 0.4293909, -0.1654282, 0.7161169, -0.1561516, 0.9253204, -0.1575607, 0.9759665, -0.1663979, 0.8310123, -0.1688598, 0.5207684, -0.1421649, 0.1661632, -0.0552954, -0.0764073,
        -0.1672601, 0.2331986, -0.1449315, 0.1139222, -0.0644088, 0.0128606, 0.0982032, -0.0689967, 0.3009469, -0.1275511, 0.4594308, -0.1589920, 0.5185636, -0.1688754, 0.4789105, -0.1699100,
        -0.1647185, 0.4608133, -0.1587859, 0.8790011, -0.1340898, 1.2048468, -0.1257364, 1.3307889, -0.1357273, 1.2090874, -0.1571531, 0.8527262, -0.1697113, 0.3740369, -0.1240728, -0.0072299,
        -0.0109768, -0.1610361, 0.5850353, -0.1346924, 1.3601151, -0.0737666, 1.9437928, -0.0463392, 2.2061580, -0.0425735, 2.1156125, -0.0591326, 1.6791143, -0.1058404, 0.9588776, -0.1672695,
        -0.1624101, 0.4451735, -0.1591451, 0.8878891, -0.1316025, 1.2408533, -0.1203474, 1.3889559, -0.1285022, 1.2818024, -0.1507323, 0.9280991, -0.1697347, 0.4323955, -0.1370575, 0.0189905,
        0.3321696, -0.1559232, 1.0369799, -0.0892279, 1.6781022, -0.0530223, 2.0599024, -0.0452600, 2.1181376, -0.0584925, 1.8318065, -0.0985092, 1.2216551, -0.1590444, 0.4430138, -0.1263166,
        -0.1665818, 0.4339488, -0.1648904, 0.7300704, -0.1546052, 0.9472007, -0.1555843, 1.0024491, -0.1650412, 0.8578527, -0.1694954, 0.5426786, -0.1456921, 0.1785039, -0.0607129, -0.0728988,
        0.8396787, -0.0982720, 1.5294317, -0.0486081, 2.0110794, -0.0348285, 2.1993255, -0.0422760, 2.0540019, -0.0750383, 1.5629840, -0.1392336, 0.7862342, -0.1595912, 0.0628818, 0.0980957,
        0.6061362, -0.1114199, 1.5527582, -0.0369377, 2.2897224, -0.0152349, 2.6865420, -0.0124793, 2.6961713, -0.0214135, 2.3005139, -0.0576344, 1.5172819, -0.1431513, 0.4940044, -0.1124716,
        -0.1581841, 0.2125990, -0.1538724, 0.2144745, -0.1308096, 0.1982059, -0.0776146, 0.1472493, 0.0030933, 0.0608396, 0.0869721, -0.0359724, 0.1486936, -0.1093769, 0.1827329, -0.1464855,
        0.1615931, -0.1671429, 0.9272477, -0.0934528, 1.7138227, -0.0443612, 2.2296880, -0.0294065, 2.3984610, -0.0328148, 2.1955666, -0.0574780, 1.6318424, -0.1187261, 0.7905895, -0.1682252,
        -0.0243797, -0.1534053, 0.4869793, -0.1495748, 1.1808763, -0.0955691, 1.7279562, -0.0663971, 1.9821663, -0.0615136, 1.9061173, -0.0784650, 1.5073525, -0.1219828, 0.8565380, -0.1692705,
        0.9743547, -0.0706122, 1.8948363, -0.0204532, 2.5323449, -0.0096141, 2.8149179, -0.0105699, 2.6985927, -0.0245211, 2.1722512, -0.0768651, 1.2591716, -0.1665188, 0.2269117, 0.0202508,
        0.5717046, -0.1204815, 1.4355052, -0.0478401, 2.1191504, -0.0232678, 2.4842475, -0.0204191, 2.4837854, -0.0330819, 2.0998990, -0.0760462, 1.3513896, -0.1553895, 0.4131581, -0.0975161,
        -0.1645904, 0.3464523, -0.1699712, 0.5068201, -0.1698691, 0.6123654, -0.1690668, 0.6091011, -0.1584485, 0.4751198, -0.1267555, 0.2485724, -0.0668453, 0.0247503, 0.0263764, -0.1127382,
    ]
}

/// The vectorised GELU against libm's erf.
struct BertGELUTests {
    @Test func matchesErfFormWithinFloatPrecision() {
        var xs: [Float] = stride(from: -12.0 as Float, through: 12, by: 0.001).map { $0 }
        xs += [0, -0, 1e-8, -1e-8, 30, -30, 100, -100, 1e4, -1e4]
        var got = xs
        got.withUnsafeMutableBufferPointer { GELU.apply($0.baseAddress!, count: $0.count) }
        var worst: Double = 0
        for (x, g) in zip(xs, got) {
            let exact = 0.5 * Double(x) * (1 + erf(Double(x) / 2.0.squareRoot()))
            worst = max(worst, abs(Double(g) - exact) / max(1, abs(exact)))
        }
        #expect(worst < 1e-6, "worst error \(worst)")
        #expect(got.allSatisfy { $0.isFinite })
    }

    @Test func tailsAreHandled() {
        var xs: [Float] = [1, 2, 3]  // shorter than one vector
        xs.withUnsafeMutableBufferPointer { GELU.apply($0.baseAddress!, count: 3) }
        #expect(abs(xs[0] - 0.8413447) < 1e-6)
        #expect(abs(xs[2] - 2.9959502) < 1e-6)
    }
}
