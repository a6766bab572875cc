//! The mail queues as RabbitMQ holds them: a message that keeps coming back, or that a
//! consumer rejects, ends in the dead-letter queue instead of being dropped or redelivered
//! for ever; and a main queue declared by an earlier version is still used.

use std::time::Duration;

use authql::mail::{
    MailKind, MailMessage,
    broker::{self, DELIVERY_LIMIT},
};
use lapin::{
    options::{BasicGetOptions, BasicNackOptions, QueueDeclareOptions, QueueDeleteOptions},
    types::FieldTable,
};

use crate::harness::{Worker, amqp_url, broker_environments, each_env, eventually::eventually};

async fn count(ch: &lapin::Channel, queue: &str) -> u32 {
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap()
    .message_count()
}

fn message() -> MailMessage {
    MailMessage {
        id: uuid::Uuid::now_v7(),
        kind: MailKind::VerifyEmail,
        to: "tess@example.com".into(),
        vars: [("username", "tess"), ("link", "x"), ("valid_for", "1 hour")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    }
}

#[tokio::test]
async fn a_message_over_the_delivery_limit_or_rejected_is_dead_lettered_not_dropped() {
    each_env(broker_environments(), &[], Worker::None, |app| async move {
        let topology = app.topology();
        let (conn, ch) = broker::connect(&amqp_url().unwrap()).await.unwrap();
        topology.declare(&conn).await.unwrap();
        broker::publish(&ch, &topology, &message()).await.unwrap();

        // A consumer that keeps handing it back (a worker that dies on it each time).
        let mut returned = 0;
        loop {
            let got = eventually(
                "a delivery or the dead letter",
                Duration::from_secs(5),
                || async {
                    if let Some(d) = ch
                        .basic_get(topology.queue.as_str().into(), BasicGetOptions::default())
                        .await
                        .unwrap()
                    {
                        return Some(Some(d));
                    }
                    (count(&ch, &topology.dead).await == 1).then_some(None)
                },
            )
            .await;
            let Some(delivery) = got else { break };
            let requeue = topology.quorum;
            delivery
                .nack(BasicNackOptions {
                    requeue,
                    ..Default::default()
                })
                .await
                .unwrap();
            returned += 1;
            assert!(returned <= DELIVERY_LIMIT + 1, "redelivered past the limit");
        }
        if topology.quorum {
            // Returned until the limit, then parked (not dropped).
            assert!(returned >= DELIVERY_LIMIT, "{returned}");
        } else {
            // Classic queues have no delivery limit; a rejection parks it.
            assert_eq!(returned, 1);
        }
        assert_eq!(count(&ch, &topology.dead).await, 1);
        assert_eq!(count(&ch, &topology.queue).await, 0);
        conn.close(200, "done".into()).await.ok();
    })
    .await;
}

#[tokio::test]
async fn a_main_queue_declared_without_the_dead_letter_arguments_is_still_used() {
    each_env(broker_environments(), &[], Worker::None, |app| async move {
        let topology = app.topology();
        // The service's relay declares the topology once it connects: that happens first,
        // or it would declare the queue again between the delete and the old declaration.
        let relay = app.state.relay.clone();
        eventually("the relay connected", Duration::from_secs(10), || {
            let up = relay.broker_up();
            async move { up }
        })
        .await;
        let (conn, ch) = broker::connect(&amqp_url().unwrap()).await.unwrap();
        // As an earlier version declared it: only its type.
        let mut args = FieldTable::default();
        if topology.quorum {
            args.insert(
                "x-queue-type".into(),
                lapin::types::AMQPValue::LongString("quorum".into()),
            );
        }
        ch.queue_delete(
            topology.queue.as_str().into(),
            QueueDeleteOptions::default(),
        )
        .await
        .unwrap();
        ch.queue_declare(
            topology.queue.as_str().into(),
            QueueDeclareOptions::durable(),
            args,
        )
        .await
        .unwrap();

        topology.declare(&conn).await.unwrap();
        broker::publish(&ch, &topology, &message()).await.unwrap();
        assert_eq!(count(&ch, &topology.queue).await, 1);
        conn.close(200, "done".into()).await.ok();
    })
    .await;
}
