// The names brook/kafkajs exports beside Kafka, the same for Node and browsers: KafkaJS's
// error classes and the constants KafkaJS programs import.

export {
  CompressionCodecs,
  CompressionTypes,
  ConfigResourceTypes,
  KafkaJSDeleteGroupsError,
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSNotImplemented,
  KafkaJSOffsetOutOfRange,
  KafkaJSProtocolError,
  PartitionAssigners,
  Partitioners,
  ResourceTypes,
  logLevel,
} from "./kafkajs.js";
