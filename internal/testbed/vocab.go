package testbed

import (
	"fmt"
	"strings"
)

// words are the whole-word pieces of the generated vocabulary. Replies are
// made of these words only: the output layer steers away from every other
// token (see the bias channel in model.go).
var words = strings.Fields(`
the of and to in is was for on are with as be at by this have from or one had
not but what all were when we there can an your which their said if do will
each about how up out them then she many some so these would other into has
more her two like him see time could no make than first been its who now
people my made over did down only way find use may water long little very after
words called just where most know get through back much go good new write our
me man too any day same right look think also around another came come work
three word must because does part even place well such here take why things
help put years different away again off went old number great tell men say
small every found still between name should home big give air line set own
under read last never us left end along while might next sound below saw
something thought both few those always looked show large often together asked
house world going want school important until form food keep children feet
land side without boy once animals life enough took sometimes four head above
kind began almost live page got earth need far hand high year mother light
parts country father let night following picture being study second eyes soon
times story boys since white days ever paper hard near sentence better best
across during today others however sure means knew try told young miles sun
ways thing whole hear example heard several change answer room sea against top
turned learn point city play toward five using himself usually money seen car
morning river open green blue red quiet stone bright garden window letter
`)

// Token types of the tokenizer.ggml.token_type array (llama.cpp's
// llama_token_type).
const (
	tokenNormal  int32 = 1
	tokenUnknown int32 = 2
	tokenControl int32 = 3
	tokenByte    int32 = 6
)

// Special token ids, fixed at the start of the vocabulary.
const (
	unkID = 0
	bosID = 1
	eosID = 2
)

// spaceMark is SentencePiece's word-boundary mark, which replaces spaces.
const spaceMark = "▁"

// vocabulary is a SentencePiece-style vocabulary: <unk>, <s>, </s>, the 256
// byte-fallback tokens <0x00>..<0xFF>, the single characters, every proper
// prefix of every word (so the tokenizer can merge characters up to a word),
// and the words. Word says which tokens the model should emit.
type vocabulary struct {
	tokens []string
	scores []float32
	types  []int32
	word   []bool
}

func newVocabulary() *vocabulary {
	v := &vocabulary{}
	seen := map[string]bool{}
	add := func(tok string, typ int32, isWord bool) {
		if seen[tok] {
			if isWord {
				// A prefix that is also a word ("a", "at") is a word.
				for i, t := range v.tokens {
					if t == tok {
						v.word[i] = true
					}
				}
			}
			return
		}
		seen[tok] = true
		// Longer pieces score higher, so the tokenizer prefers them.
		score := float32(0)
		if typ == tokenNormal {
			score = -1000 + float32(len(tok))*10 - float32(len(v.tokens))/1e3
		}
		v.tokens = append(v.tokens, tok)
		v.scores = append(v.scores, score)
		v.types = append(v.types, typ)
		v.word = append(v.word, isWord)
	}
	add("<unk>", tokenUnknown, false)
	add("<s>", tokenControl, false)
	add("</s>", tokenControl, false)
	for b := range 256 {
		add(fmt.Sprintf("<0x%02X>", b), tokenByte, false)
	}
	add(spaceMark, tokenNormal, false)
	for c := 'a'; c <= 'z'; c++ {
		add(string(c), tokenNormal, false)
	}
	for _, p := range []string{".", ",", "?", "!", ":"} {
		add(p, tokenNormal, false)
	}
	for _, w := range words {
		piece := spaceMark + w
		for i := len(spaceMark) + 1; i < len(piece); i++ {
			add(piece[:i], tokenNormal, false)
		}
		add(piece, tokenNormal, true)
	}
	return v
}
