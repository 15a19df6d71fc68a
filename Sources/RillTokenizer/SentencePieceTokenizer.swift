/// A SentencePiece tokenizer loaded from a `tokenizer.model` (protobuf `ModelProto`): unigram
/// (T5, ALBERT, Gemma-style) or BPE (LLaMA, Mistral) models, giving the ids of the
/// `sentencepiece` library's `encode` (no BOS/EOS) and the text of its `decode`.
///
/// Encoding, as `SentencePieceProcessor::Encode`:
/// 1. normalise (`SentencePieceNormalizer`): the precompiled character map, user-defined
///    pieces kept as they are, extra spaces removed, `▁` for spaces, the dummy `▁` prefix;
/// 2. unigram: Viterbi over the piece scores (`EncodeOptimized`: user-defined pieces score
///    `length × max score − 0.1`, an unknown character `min score − 10`); BPE: merge the
///    adjacent pair whose result is the highest-scoring piece, leftmost first, then split
///    `UNUSED` pieces back into their parts;
/// 3. unknown pieces become their `<0xXX>` byte pieces with `byte_fallback`, else adjacent
///    unknowns are merged into one `<unk>`.
///
/// Decoding, as `SentencePieceProcessor::Decode`: `▁` → space, the leading `▁` of the text
/// dropped (one, or all leading `▁` pieces with `remove_extra_whitespaces`; see
/// `appendDecodedBytes(of:to:state:)`), control pieces (`<s>`, `</s>`) print nothing, `<unk>` prints
/// the unknown surface (` ⁇ `), byte pieces their byte. Not as in the library: a run of byte
/// pieces that is not valid UTF-8 gets one U+FFFD per maximal invalid subsequence (Python's
/// `decode("utf-8", "replace")`), where `sentencepiece` gives one per invalid byte.
///
/// Control pieces are never matched in text (as in the library); user-defined pieces are.
public struct SentencePieceTokenizer: Tokenizer {
    /// Which algorithm splits the normalised text.
    public enum Algorithm: String, Sendable { case unigram, bpe }

    // MARK: - Public facts

    /// The number of pieces; every id below it is assigned.
    public let vocabSize: Int
    /// User-defined pieces (matched in text, not special) and control pieces (special, never
    /// matched in text), in id order.
    public let addedTokens: [AddedToken]
    /// `trainer_spec.bos_id` when it names a piece.
    public let bosTokenID: Int32?
    /// `trainer_spec.eos_id` when it names a piece.
    public let eosTokenID: Int32?
    /// The model's algorithm.
    public let algorithm: Algorithm

    // MARK: - Model

    let pieces: [SentencePieceModelProto.Piece]
    /// NORMAL, USER_DEFINED and UNUSED pieces (SentencePiece's `pieces_`).
    let pieceTrie: PieceTrie
    /// The other pieces: CONTROL, UNKNOWN, BYTE (`reserved_id_map_`).
    let reservedTrie: PieceTrie
    let unknownID: Int32
    let byteFallback: Bool
    /// `byteIDs[b]`: the id of piece `<0xXX>`; only read with `byteFallback`.
    let byteIDs: [Int32]
    /// Lowest and highest score of NORMAL pieces (highest starts at `FLT_MIN`, as in the library).
    let minScore: Float
    let maxScore: Float
    let normalizer: SentencePieceNormalizer

    // MARK: - Decoding

    let decodeTable: TokenBytesTable
    /// The bytes of each piece at the start of the text (leading `▁` dropped).
    let firstTable: TokenBytesTable
    let special: [Bool]
    /// Whether the piece's `firstTable` entry dropped a leading `▁`.
    let consumesSpace: [Bool]
    let pieceIDs: [String: Int32]

    /// Loads a `tokenizer.model`.
    ///
    /// - Throws: `TokenizerError.badModelProto` for bad wire data, an empty or duplicate piece,
    ///   a missing `<unk>` or `<0xXX>` piece, or an unsupported option (`WORD`/`CHAR` models,
    ///   `treat_whitespace_as_suffix`).
    public init(modelProto bytes: [UInt8]) throws(TokenizerError) {
        let proto = try SentencePieceModelProto(bytes)
        switch proto.modelType {
        case .unigram: algorithm = .unigram
        case .bpe: algorithm = .bpe
        case .word, .char:
            throw .badModelProto(field: "trainer_spec.model_type", reason: "\(proto.modelType) is not supported (supported: UNIGRAM, BPE)")
        }
        guard !proto.treatWhitespaceAsSuffix else {
            throw .badModelProto(field: "trainer_spec.treat_whitespace_as_suffix", reason: "true is not supported")
        }
        guard !proto.pieces.isEmpty else { throw .badModelProto(field: "pieces", reason: "no pieces") }

        var pieceTrie = PieceTrie()
        var reservedTrie = PieceTrie()
        var unknownID: Int32 = -1
        var minScore = Float.greatestFiniteMagnitude
        var maxScore = Float.leastNormalMagnitude  // FLT_MIN, as the library starts it
        var userDefined: [[UInt8]] = []
        var added: [AddedToken] = []
        var pieceIDs: [String: Int32] = [:]
        for (i, p) in proto.pieces.enumerated() {
            let id = Int32(i)
            guard !p.piece.isEmpty else { throw .badModelProto(field: "pieces[\(i)].piece", reason: "empty") }
            let normal = p.type == .normal || p.type == .userDefined || p.type == .unused
            let inserted = normal ? pieceTrie.insert(p.piece, id: id) : reservedTrie.insert(p.piece, id: id)
            guard inserted else {
                throw .badModelProto(field: "pieces[\(i)].piece", reason: "'\(String(decoding: p.piece, as: UTF8.self))' is already defined")
            }
            let text = String(decoding: p.piece, as: UTF8.self)
            if pieceIDs[text] == nil { pieceIDs[text] = id }
            switch p.type {
            case .normal:
                minScore = min(minScore, p.score)
                maxScore = max(maxScore, p.score)
            case .unknown:
                guard unknownID < 0 else { throw .badModelProto(field: "pieces[\(i)].type", reason: "a second UNKNOWN piece") }
                unknownID = id
            case .userDefined:
                userDefined.append(p.piece)
                added.append(AddedToken(id: id, content: text, isSpecial: false))
            case .control:
                added.append(AddedToken(id: id, content: text, isSpecial: true))
            case .unused, .byte:
                break
            }
        }
        guard unknownID >= 0 else { throw .badModelProto(field: "pieces", reason: "no UNKNOWN piece") }
        var byteIDs = [Int32](repeating: -1, count: 256)
        if proto.byteFallback {
            for b in 0..<256 {
                let name = Array(MetaspaceBPETokenizer.byteToken(UInt8(b)).utf8)
                guard let id = reservedTrie.exact(name[...]), proto.pieces[Int(id)].type == .byte else {
                    throw .badModelProto(field: "pieces", reason: "byte_fallback needs the BYTE piece \(String(decoding: name, as: UTF8.self))")
                }
                byteIDs[b] = id
            }
        }

        self.vocabSize = proto.pieces.count
        self.addedTokens = added
        self.pieces = proto.pieces
        self.pieceTrie = pieceTrie
        self.reservedTrie = reservedTrie
        self.unknownID = unknownID
        self.byteFallback = proto.byteFallback
        self.byteIDs = byteIDs
        self.minScore = minScore
        self.maxScore = maxScore
        self.pieceIDs = pieceIDs
        self.normalizer = try SentencePieceNormalizer(proto, userDefined: userDefined)
        func valid(_ id: Int) -> Int32? { id >= 0 && id < proto.pieces.count ? Int32(id) : nil }
        self.bosTokenID = valid(proto.bosID)
        self.eosTokenID = valid(proto.eosID)
        self.special = proto.pieces.map { $0.type == .control }

        // Decoding tables: what each piece prints in the middle and at the start of the text.
        let space = Array("\u{2581}".utf8)
        let dropsFirstSpace = proto.addDummyPrefix || proto.removeExtraWhitespaces
        var middle: [[UInt8]?] = []
        var first: [[UInt8]?] = []
        for (i, p) in proto.pieces.enumerated() {
            switch p.type {
            case .control:
                middle.append([]); first.append([])
            case .unknown:
                middle.append(proto.unkSurface); first.append(proto.unkSurface)
            case .byte:
                let b = MetaspaceBPETokenizer.fallbackByte(String(decoding: p.piece, as: UTF8.self))
                let bytes = b.map { [$0] } ?? p.piece
                middle.append(bytes); first.append(bytes)
            case .normal, .userDefined, .unused:
                _ = i
                middle.append(MetaspaceBPETokenizer.replacing(p.piece, space, [UInt8(ascii: " ")]))
                let head = dropsFirstSpace && p.piece.starts(with: space) ? Array(p.piece.dropFirst(space.count)) : p.piece
                first.append(MetaspaceBPETokenizer.replacing(head, space, [UInt8(ascii: " ")]))
            }
        }
        self.consumesSpace = proto.pieces.map {
            dropsFirstSpace && $0.piece.starts(with: space) && ($0.type == .normal || $0.type == .userDefined || $0.type == .unused)
        }
        self.decodeTable = TokenBytesTable(tokenBytes: middle)
        self.firstTable = TokenBytesTable(tokenBytes: first)
    }

    // MARK: - Encoding

    /// The ids of `text`, as `SentencePieceProcessor.encode` gives them (no BOS/EOS).
    public func encode(_ text: String) -> [Int32] {
        let normalized = normalizer.normalize(Array(text.utf8))
        if normalized.isEmpty { return [] }
        let pieces: [(Range<Int>, Int32)]
        switch algorithm {
        case .unigram: pieces = encodeUnigram(normalized)
        case .bpe: pieces = encodeBPE(normalized)
        }
        var ids: [Int32] = []
        ids.reserveCapacity(pieces.count)
        var previousWasUnknown = false
        for (range, id) in pieces {
            let isUnknown = id == unknownID
            if isUnknown && byteFallback {
                for b in normalized[range] { ids.append(byteIDs[Int(b)]) }
            } else if !(isUnknown && previousWasUnknown) {
                // Adjacent unknown pieces merge into one (`byte_fallback` off).
                ids.append(id)
            }
            previousWasUnknown = isUnknown
        }
        return ids
    }

    /// `unigram::Model::EncodeOptimized`: the best path ending at each byte offset.
    private func encodeUnigram(_ s: [UInt8]) -> [(Range<Int>, Int32)] {
        struct Best { var id: Int32 = -1; var score: Float = 0; var start = -1 }
        let n = s.count
        let unknownScore = minScore - 10  // kUnkPenalty
        var best = [Best](repeating: Best(), count: n + 1)
        var start = 0
        while start < n {
            let here = best[start].score
            let charLength = min(SentencePieceNormalizer.oneCharLength(s[start]), n - start)
            var hasSingle = false
            pieceTrie.forEachPrefix(of: s, from: start) { end, id in
                let type = pieces[Int(id)].type
                if type == .unused { return }
                let length = end - start
                let candidate: Float
                let better: Bool
                if type == .userDefined {
                    // `length * max_score_ - 0.1` is a double in the library; so is the sum.
                    let wide = Double(Float(length) * maxScore) - 0.1 + Double(here)
                    better = best[end].start == -1 || wide > Double(best[end].score)
                    candidate = Float(wide)
                } else {
                    candidate = pieces[Int(id)].score + here
                    better = best[end].start == -1 || candidate > best[end].score
                }
                if better { best[end] = Best(id: id, score: candidate, start: start) }
                if length == charLength { hasSingle = true }
            }
            if !hasSingle {
                let end = start + charLength
                let candidate = unknownScore + here
                if best[end].start == -1 || candidate > best[end].score {
                    best[end] = Best(id: unknownID, score: candidate, start: start)
                }
            }
            start += charLength
        }
        var out: [(Range<Int>, Int32)] = []
        var end = n
        while end > 0 {
            let node = best[end]
            guard node.start >= 0 && node.start < end else { break }  // unreachable with valid UTF-8
            out.append((node.start..<end, node.id))
            end = node.start
        }
        return out.reversed()
    }

    /// `bpe::Model::Encode`: merge by piece score, then resegment UNUSED pieces.
    private func encodeBPE(_ s: [UInt8]) -> [(Range<Int>, Int32)] {
        // Symbols: user-defined pieces (frozen) or single characters.
        var starts: [Int] = []
        var lengths: [Int] = []
        var frozen: [Bool] = []
        var at = 0
        while at < s.count {
            if let length = normalizer.userDefinedMatch(s, at: at) {
                starts.append(at); lengths.append(length); frozen.append(true)
                at += length
            } else {
                let length = min(SentencePieceNormalizer.oneCharLength(s[at]), s.count - at)
                starts.append(at); lengths.append(length); frozen.append(false)
                at += length
            }
        }
        let n = starts.count
        var prev = (0..<n).map { $0 - 1 }
        var next = (0..<n).map { $0 + 1 < n ? $0 + 1 : -1 }
        var heap = SymbolPairHeap()
        var unusedSplits: [[UInt8]: (Range<Int>, Range<Int>)] = [:]

        func addPair(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0, !frozen[left], !frozen[right] else { return }
            let range = starts[left]..<(starts[left] + lengths[left] + lengths[right])
            guard let id = pieceTrie.exact(s[range]) else { return }
            heap.push(.init(score: pieces[Int(id)].score, left: left, right: right, size: range.count))
            if pieces[Int(id)].type == .unused {
                unusedSplits[Array(s[range])] = (starts[left]..<(starts[left] + lengths[left]), starts[right]..<(starts[right] + lengths[right]))
            }
        }
        for i in 1..<max(n, 1) { addPair(i - 1, i) }
        while let top = heap.pop() {
            // Stale: a side was merged away or has grown since the pair was pushed.
            guard lengths[top.left] > 0, lengths[top.right] > 0, lengths[top.left] + lengths[top.right] == top.size else { continue }
            lengths[top.left] += lengths[top.right]
            next[top.left] = next[top.right]
            if next[top.right] >= 0 { prev[next[top.right]] = top.left }
            lengths[top.right] = 0
            addPair(prev[top.left], top.left)
            addPair(top.left, next[top.left])
        }

        var out: [(Range<Int>, Int32)] = []
        func resegment(_ range: Range<Int>, depth: Int) {
            let id = pieceID(s[range])
            guard id >= 0, pieces[Int(id)].type == .unused, depth < 64,
                  let (left, right) = unusedSplits[Array(s[range])] else {
                out.append((range, id))
                return
            }
            resegment(left, depth: depth + 1)
            resegment(right, depth: depth + 1)
        }
        var i = n > 0 ? 0 : -1
        while i >= 0 {
            resegment(starts[i]..<(starts[i] + lengths[i]), depth: 0)
            i = next[i]
        }
        return out
    }

    /// `PieceToId`: reserved pieces first, then the others, else `<unk>`.
    private func pieceID(_ bytes: ArraySlice<UInt8>) -> Int32 {
        reservedTrie.exact(bytes) ?? pieceTrie.exact(bytes) ?? unknownID
    }

    // MARK: - Lookup and decoding

    /// The piece of `id` (`▁the`, `<0x0A>`, `<s>`); `nil` out of range.
    public func token(forID id: Int32) -> String? {
        guard id >= 0 && Int(id) < vocabSize else { return nil }
        return String(decoding: pieces[Int(id)].piece, as: UTF8.self)
    }

    /// The id of a piece.
    public func id(forToken token: String) -> Int32? { pieceIDs[token] }

    /// Whether `id` is a control piece (`<s>`, `</s>`); they decode to nothing anyway.
    public func isSpecialToken(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < vocabSize && special[Int(id)]
    }

    /// The bytes of `id` in the middle of a text.
    public func appendDecodedBytes(of id: Int32, to bytes: inout [UInt8]) {
        decodeTable.append(id, to: &bytes)
    }

    /// The bytes of `id` at its position, as `SentencePieceProcessor::Decode`: a piece's
    /// leading `▁` is consumed while `is_bos_ws` holds, which ends (for good) at the first
    /// piece that is not a byte piece once text has been output or the previous piece consumed
    /// a `▁`; with `remove_extra_whitespaces` a consumed `▁` does not count, so every leading
    /// `▁` piece goes. `state.tokens > 0` records the end of `is_bos_ws`,
    /// `state.strippedSpaces > 0` that the previous piece consumed a `▁` (`bos_ws_seen`).
    public func appendDecodedBytes(of id: Int32, to bytes: inout [UInt8], state: inout DecodeState) {
        guard id >= 0 && Int(id) < vocabSize else { return }
        let type = pieces[Int(id)].type
        if type == .byte {
            let piece = decodeTable[id]
            bytes += piece
            state.bytes += piece.count
            return
        }
        if state.strippedSpaces > 0 || state.bytes > 0 { state.tokens = max(state.tokens, 1) }
        let atStart = state.tokens == 0
        let piece = atStart ? firstTable[id] : decodeTable[id]
        bytes += piece
        state.bytes += piece.count
        state.strippedSpaces = atStart && consumesSpace[Int(id)] && !normalizer.removeExtraWhitespaces ? 1 : 0
    }
}

// MARK: - Pieces by bytes

/// A byte trie over pieces: exact lookup and all prefixes of a text, with no allocation.
struct PieceTrie: Sendable {
    /// `children[node << 8 | byte]`: the child node.
    private var children: [UInt64: Int32] = [:]
    /// `ids[node]`: the piece ending at this node, or -1.
    private var ids: [Int32] = [-1]

    /// Adds `piece`; false if it is already there.
    mutating func insert(_ piece: [UInt8], id: Int32) -> Bool {
        var node: Int32 = 0
        for b in piece {
            let key = UInt64(node) << 8 | UInt64(b)
            if let child = children[key] {
                node = child
            } else {
                let child = Int32(ids.count)
                ids.append(-1)
                children[key] = child
                node = child
            }
        }
        guard ids[Int(node)] < 0 else { return false }
        ids[Int(node)] = id
        return true
    }

    /// The id of exactly `bytes`.
    func exact(_ bytes: ArraySlice<UInt8>) -> Int32? {
        var node: Int32 = 0
        for b in bytes {
            guard let child = children[UInt64(node) << 8 | UInt64(b)] else { return nil }
            node = child
        }
        let id = ids[Int(node)]
        return id >= 0 ? id : nil
    }

    /// Calls `body(end, id)` for every piece that `s[from...]` starts with, shortest first.
    func forEachPrefix(of s: [UInt8], from: Int, _ body: (Int, Int32) -> Void) {
        var node: Int32 = 0
        var at = from
        while at < s.count {
            guard let child = children[UInt64(node) << 8 | UInt64(s[at])] else { return }
            node = child
            at += 1
            let id = ids[Int(node)]
            if id >= 0 { body(at, id) }
        }
    }
}

/// The BPE agenda: highest score first, then the leftmost pair (`SymbolPairComparator`).
typealias SymbolPairHeap = PriorityHeap<SymbolPair>

/// A candidate merge of the symbols `left` and `right` into a piece of `size` bytes.
struct SymbolPair: HeapOrdered {
    var score: Float
    var left: Int
    var right: Int
    var size: Int

    func before(_ o: SymbolPair) -> Bool { score != o.score ? score > o.score : left < o.left }
}
