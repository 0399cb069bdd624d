/*
 * A stand-in for miniaudio.h, used only to build Ollama for evalpin's test bed.
 *
 * Go module zips drop vendor/ directories, so llama.cpp's vendored miniaudio is
 * missing from the module cache, and Debian 12 does not package it. Ollama uses
 * miniaudio only to decode audio inputs for multimodal models
 * (llama/llama.cpp/tools/mtmd/mtmd-helper.cpp). Every function here fails, so an
 * audio input is rejected while text models work unchanged.
 *
 * The declarations cover exactly the symbols mtmd-helper.cpp uses.
 */
#ifndef EVALPIN_MINIAUDIO_STUB_H
#define EVALPIN_MINIAUDIO_STUB_H

#include <stddef.h>

typedef int ma_result;
typedef unsigned long long ma_uint64;

#define MA_SUCCESS 0
#define MA_ERROR (-1)
#define MA_NOT_IMPLEMENTED (-29)

typedef enum { ma_format_unknown = 0, ma_format_f32 = 5 } ma_format;

typedef struct {
    ma_format format;
    unsigned int channels;
    unsigned int sampleRate;
} ma_decoder_config;

typedef struct {
    int unused;
} ma_decoder;

static inline ma_decoder_config ma_decoder_config_init(ma_format format, unsigned int channels, unsigned int sampleRate) {
    ma_decoder_config c;
    c.format = format;
    c.channels = channels;
    c.sampleRate = sampleRate;
    return c;
}

static inline ma_result ma_decoder_init_memory(const void *data, size_t size, const ma_decoder_config *config, ma_decoder *decoder) {
    (void)data; (void)size; (void)config;
    if (decoder) decoder->unused = 0;
    return MA_NOT_IMPLEMENTED;
}

static inline ma_result ma_decoder_get_length_in_pcm_frames(ma_decoder *decoder, ma_uint64 *length) {
    (void)decoder;
    if (length) *length = 0;
    return MA_NOT_IMPLEMENTED;
}

static inline ma_result ma_decoder_read_pcm_frames(ma_decoder *decoder, void *frames, ma_uint64 count, ma_uint64 *read) {
    (void)decoder; (void)frames; (void)count;
    if (read) *read = 0;
    return MA_NOT_IMPLEMENTED;
}

static inline ma_result ma_decoder_uninit(ma_decoder *decoder) {
    (void)decoder;
    return MA_SUCCESS;
}

#endif /* EVALPIN_MINIAUDIO_STUB_H */
