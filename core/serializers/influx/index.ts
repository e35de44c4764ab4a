/** InfluxDB line protocol: the serializer and the pieces other modules use. */
export { formatFieldValue, LineProtocolSerializer, MetricSerializeError, serializerOptions, type InfluxSerializerOptions, type LineProtocolOptions } from './serializer';
export { escapeKey, escapeName, escapeStringValue } from './escape';
export { formatFloat, formatInteger } from './numbers';
